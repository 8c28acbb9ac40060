"""check_ops.py as users run it: the fixed checks and the random sweep, with oneDNN on and off."""

import os
import re
import subprocess
import sys

import pytest

from conftest import REPO_DIR


def run_check_ops(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, os.path.join(REPO_DIR, "check_ops.py")] + list(args), cwd=REPO_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    return result.returncode, result.stdout


@pytest.mark.slow_on_tf1  # Two TensorFlow subprocesses; the sweep's ops are checked on TF 1.15 by test_ops_*.py.
def test_fixed_checks_and_sweep_pass_with_onednn_on_and_off():
    # CI runs a short sweep; `python check_ops.py --sweep 2000` is the long one (README).
    status, output = run_check_ops("--impl", "ref", "--sweep", "120", "--seed", "3")
    summaries = re.findall(r"Sweep \(TF_ENABLE_ONEDNN_OPTS=(\d), impl ref\): 120 random configurations per op, "
                           r"(\d+) results checked, (\d+) mismatches", output)
    assert [onednn for onednn, _, _ in summaries] == ["1", "0"], output
    # Per configuration: upfirdn_2d value and gradient, and one resampling convolution in two layouts.
    assert all(int(checked) == 4 * 120 and int(mismatches) == 0 for _, checked, mismatches in summaries), output
    assert status == 0 and "MISMATCH" not in output, output
    # Each subprocess also ran the fixed checks first, naming the implementation.
    assert output.count("Implementations checked: ref") == 2
    for op in ("fused_bias_act lrelu", "fused_bias_act clamp", "upsample_2d", "downsample_2d", "upsample_conv_2d", "conv_downsample_2d"):
        assert len(re.findall(r"^%s\s+ref\s+\S+\s+ok$" % re.escape(op), output, re.M)) == 2, output
    assert output.count("All checks passed.") == 2
