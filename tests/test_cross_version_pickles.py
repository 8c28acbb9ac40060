"""Network pickles cross TensorFlow versions: written under one (e.g. TF 1.15, Python 3.7, NumPy 1.18), loaded
under another (e.g. TF 2.21, Python 3.11, NumPy 2), and the reverse, with the same variables and outputs.

The other interpreter is $STYLEGAN2_OTHER_PYTHON (`.ci/run` points each of its two runs at the other run's
virtual environment); without it these tests skip. The work on each side is tests/cross_version_pickle.py.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cross_version_pickle

OTHER_PYTHON_ENV = "STYLEGAN2_OTHER_PYTHON"
SCRIPT = os.path.abspath(cross_version_pickle.__file__)


@pytest.fixture
def other_python():
    path = os.environ.get(OTHER_PYTHON_ENV)
    if not path:
        pytest.skip("set %s to the python of another TensorFlow install (.ci/run does) to test pickles "
                    "across versions" % OTHER_PYTHON_ENV)
    if not os.path.isfile(path):
        pytest.fail("%s=%s: no such file" % (OTHER_PYTHON_ENV, path))
    return path


def run_other(python, command, out_dir):
    env = dict(os.environ)
    env.pop(OTHER_PYTHON_ENV, None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = subprocess.run([python, SCRIPT, command, str(out_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, "%s %s %s failed:\n%s" % (python, SCRIPT, command, result.stdout[-5000:])


def compare(out_dir):
    """Variables bit for bit; outputs to float32 rounding (the two TF builds' kernels sum in other orders)."""
    with open(os.path.join(out_dir, "versions.json")) as f:
        versions = json.load(f)
    saved = np.load(os.path.join(out_dir, "saved.npz"))
    loaded = np.load(os.path.join(out_dir, "loaded.npz"))
    assert sorted(saved.files) == sorted(loaded.files)
    assert len([key for key in saved.files if key.startswith("vars/")]) > 50
    for key in saved.files:
        context = "%s (saved under %s, loaded under %s)" % (key, versions["saved"], versions["loaded"])
        if key.startswith("vars/"):
            np.testing.assert_array_equal(loaded[key], saved[key], err_msg=context)
        else:
            assert loaded[key].shape == saved[key].shape and np.all(np.isfinite(saved[key])), context
            scale = np.abs(saved[key]).max()
            np.testing.assert_allclose(loaded[key], saved[key], rtol=1e-5, atol=1e-5 * scale, err_msg=context)
    # The images must differ between latents, or the comparison would prove little.
    images = saved["out/Gs_psi0.7"]
    assert np.abs(images[0] - images[1]).mean() > 1e-2
    return versions


def test_pickle_from_other_interpreter_loads_here(other_python, tmp_path):
    run_other(other_python, "save", tmp_path)
    cross_version_pickle.load(str(tmp_path))
    versions = compare(str(tmp_path))
    assert versions["loaded"]["python"] == "%d.%d.%d" % sys.version_info[:3]


def test_pickle_from_here_loads_in_other_interpreter(other_python, tmp_path):
    cross_version_pickle.save(str(tmp_path))
    run_other(other_python, "load", tmp_path)
    versions = compare(str(tmp_path))
    assert versions["saved"]["python"] == "%d.%d.%d" % sys.version_info[:3]
