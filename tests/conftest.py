"""Shared test fixtures: a fresh TF graph and session per test, and the reference-number folder."""

import os
import sys

import pytest

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_DIR not in sys.path:
    sys.path.insert(0, REPO_DIR)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # NCHW convolutions on CPU (see dnnlib/tflib/__init__.py).

import dnnlib.tflib as tflib  # noqa: E402  (first: it quiets TensorFlow's start-up, and disables TF2 behaviour)
import tensorflow.compat.v1 as tf  # noqa: E402


def reference_dir():
    """Numbers from the official implementation: $STYLEGAN2_REFERENCE or ../shared/reference."""
    return os.environ.get("STYLEGAN2_REFERENCE", os.path.join(REPO_DIR, "..", "shared", "reference"))


@pytest.fixture
def reference():
    path = reference_dir()
    if not os.path.isdir(path):
        pytest.skip("reference numbers not found at %s (set STYLEGAN2_REFERENCE)" % path)
    return path


@pytest.fixture
def sess():
    """A fresh graph with its own session, both the defaults for the test's duration."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1234)
        session = tflib.create_session(force_as_default=False)
        with session.as_default():
            yield session
        session.close()


def make_session(num_cpus=1):
    """A session on the current default graph with `num_cpus` logical CPU devices (/cpu:0 ...)."""
    config = tf.ConfigProto(device_count={"CPU": num_cpus}, allow_soft_placement=True)
    return tf.Session(config=config)


@pytest.fixture(autouse=True)
def _no_default_session_leaks():
    """Leave no process-wide default session behind (init_tf() enters one for good), so tests stay independent."""
    yield
    while tf.get_default_session() is not None:
        session = tf.get_default_session()
        context = getattr(session, "_default_session", None)
        if context is None:
            break  # A `with session.as_default()` block of the test itself: not ours to close.
        context.__exit__(None, None, None)
        session.close()
        tf.reset_default_graph()


# On TensorFlow 1.x (CI's second run, Python 3.7) the long tests are left out to keep CI within its time;
# README "Requirements and what was tested" lists them. STYLEGAN2_TF1_ALL_TESTS=1 runs them too.
TF1_SLOW_MARKER = "slow_on_tf1"


def pytest_configure(config):
    config.addinivalue_line("markers", TF1_SLOW_MARKER + ": long test, deselected on TensorFlow 1.x "
                                      "unless STYLEGAN2_TF1_ALL_TESTS=1")


def _deselect_slow_on_tf1():
    return tf.VERSION.startswith("1.") and os.environ.get("STYLEGAN2_TF1_ALL_TESTS") != "1"


def pytest_report_header(config):
    if _deselect_slow_on_tf1():
        return "TensorFlow %s: tests marked %s are deselected (STYLEGAN2_TF1_ALL_TESTS=1 runs them)" % (
            tf.VERSION, TF1_SLOW_MARKER)
    return None


def pytest_collection_modifyitems(config, items):
    if not _deselect_slow_on_tf1():
        return
    slow = [item for item in items if item.get_closest_marker(TF1_SLOW_MARKER)]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker(TF1_SLOW_MARKER)]
