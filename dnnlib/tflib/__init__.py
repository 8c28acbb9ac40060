"""TensorFlow helpers of StyleGAN2: sessions, `Network`, `Optimizer`, autosummaries, custom ops."""

from . import tfutil  # First: disables TF2 behaviour before anything builds a graph.
from . import custom_ops

from .tfutil import *  # noqa: F401,F403  (the official star-export of tfutil)
from .custom_ops import get_plugin
