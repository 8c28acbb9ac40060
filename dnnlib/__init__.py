"""dnnlib: utilities, the run-dir machinery and the TensorFlow helpers (`dnnlib.tflib`)."""

from .util import EasyDict
