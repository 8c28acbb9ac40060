"""TensorFlow helpers of StyleGAN2: sessions, `Network`, `Optimizer`, autosummaries, custom ops."""

from . import tfutil  # First: disables TF2 behaviour before anything builds a graph.
from . import autosummary
from . import custom_ops
from . import network
from . import optimizer

from .tfutil import *  # noqa: F401,F403  (the official star-export of tfutil)
from .network import Network
from .optimizer import Optimizer
from .custom_ops import get_plugin
