"""benchmarks/gpu_benchmarks.sh: on a machine without a GPU it stops at once with a one-line error.

(With a GPU it would run its full ten minutes of benchmarks, which is not a test's job.)
"""

import os
import subprocess
import sys

import pytest

import dnnlib.tflib as tflib
from conftest import REPO_DIR


def test_without_a_gpu_one_line_error_and_nonzero_exit(tmp_path):
    if tflib.tfutil.has_gpu():
        pytest.skip("a GPU is present: the script would run its full benchmarks")
    result = subprocess.run(["bash", os.path.join(REPO_DIR, "benchmarks", "gpu_benchmarks.sh"), sys.executable],
                            cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("gpu_benchmarks.sh: error: TensorFlow (%s) sees no GPU" % sys.executable), lines
