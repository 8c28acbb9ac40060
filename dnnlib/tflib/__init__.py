"""TensorFlow helpers of StyleGAN2: sessions, `Network`, `Optimizer`, autosummaries, custom ops."""

import os

# NCHW convolutions (the official layout) have CPU kernels only through oneDNN, which TensorFlow
# turns on by default only on CPUs with AVX-512 or newer. It is read when TensorFlow is imported,
# so import dnnlib.tflib before tensorflow; TF_ENABLE_ONEDNN_OPTS=0 in the environment still wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from . import tfutil  # First: disables TF2 behaviour before anything builds a graph.
from . import autosummary
from . import custom_ops
from . import network
from . import optimizer

from .tfutil import *  # noqa: F401,F403  (the official star-export of tfutil)
from .network import Network
from .optimizer import Optimizer
from .custom_ops import get_plugin
