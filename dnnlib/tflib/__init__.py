"""TensorFlow helpers of StyleGAN2: sessions, `Network`, `Optimizer`, autosummaries, custom ops.

Importing this package imports TensorFlow quietly: the start-up messages TensorFlow prints on every run
(the oneDNN notice, the CPU-instructions notice, absl's "All log messages before absl::InitializeLog()"
warning, C++ INFO lines) are left out. `STYLEGAN2_TF_VERBOSE=1` in the environment brings them back;
`TF_CPP_MIN_LOG_LEVEL` set in the environment is respected either way.
"""

import os
import re
import sys
import tempfile

# NCHW convolutions (the official layout) have CPU kernels only through oneDNN, which TensorFlow
# turns on by default only on CPUs with AVX-512 or newer. It is read when TensorFlow is imported,
# so import dnnlib.tflib before tensorflow; TF_ENABLE_ONEDNN_OPTS=0 in the environment still wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

VERBOSE_ENV = "STYLEGAN2_TF_VERBOSE"

# Lines TensorFlow writes to stderr while it is imported, whatever the program does. They come from C++
# code that runs as the libraries load (absl logging before its initialisation), which
# TF_CPP_MIN_LOG_LEVEL cannot reach, so they are filtered from the captured output of the import.
_STARTUP_CHATTER = re.compile("|".join([
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    r"\] oneDNN custom operations are on\. ",
    r"cpu_feature_guard\.cc:\d+\] ",
    r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$",
    r"\] Unable to register cu(DNN|FFT|BLAS) factory: ",
    r"TF-TRT Warning: Could not find TensorRT$",
]))


def tf_verbose():
    """Whether TensorFlow's start-up messages are wanted ($STYLEGAN2_TF_VERBOSE set, and not 0/false/no)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def without_startup_chatter(text):
    """`text` (stderr output) without the lines of _STARTUP_CHATTER."""
    lines = text.splitlines(True)
    return "".join(line for line in lines if not _STARTUP_CHATTER.search(line.rstrip("\r\n")))


def import_quietly(module_name):
    """Import `module_name` with the process's stderr (file descriptor 2) captured, then write back what
    was captured less TensorFlow's start-up chatter (everything, if the import fails)."""
    sys.stderr.flush()
    try:
        saved_fd = os.dup(2)
    except OSError:  # No usable stderr: nothing to quiet.
        return __import__(module_name)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            module = __import__(module_name)
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            text = text if failed else without_startup_chatter(text)
            if text:
                sys.stderr.write(text)
                sys.stderr.flush()
    return module


if not tf_verbose():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # C++ INFO lines once TensorFlow's logging is set up.
    if "tensorflow" not in sys.modules:
        import_quietly("tensorflow")

from . import tfutil  # noqa: E402  First: disables TF2 behaviour before anything builds a graph.
from . import autosummary  # noqa: E402
from . import custom_ops  # noqa: E402
from . import network  # noqa: E402
from . import optimizer  # noqa: E402

from .tfutil import *  # noqa: E402,F401,F403  (the official star-export of tfutil)
from .network import Network  # noqa: E402
from .optimizer import Optimizer  # noqa: E402
from .custom_ops import get_plugin  # noqa: E402
