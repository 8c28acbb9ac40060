"""dnnlib.cli: the argument types, the error line and the run-dir helper shared by the command-line tools."""

import argparse
import ast
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from dnnlib import cli


def test_str_to_bool():
    for text in ("yes", "True", " t ", "Y", "1"):
        assert cli.str_to_bool(text) is True
    for text in ("no", "FALSE", "f", "n", "0"):
        assert cli.str_to_bool(text) is False
    assert cli.str_to_bool(False) is False
    with pytest.raises(argparse.ArgumentTypeError, match="expected a boolean"):
        cli.str_to_bool("maybe")


def test_parse_num_range():
    assert cli.parse_num_range("1,2,5-7") == [1, 2, 5, 6, 7]
    assert cli.parse_num_range("6600-6602") == [6600, 6601, 6602]
    assert cli.parse_num_range(" 3 - 4 ,9") == [3, 4, 9]
    with pytest.raises(argparse.ArgumentTypeError, match="is empty"):
        cli.parse_num_range("7-5")
    for bad in ("", "a", "1,,2", "-3", "1-2-3"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.parse_num_range(bad)


def test_report_error(capsys):
    assert cli.report_error("tool.py", ValueError("no such file")) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "tool.py: error: no such file\n"


def test_run_in_new_run_dir(tmp_path):
    cli.run_in_new_run_dir("dnnlib.util.write_file_atomically", result_dir=str(tmp_path), run_desc="write-it",
                           path=str(tmp_path / "out.bin"), data=b"abc")
    assert (tmp_path / "out.bin").read_bytes() == b"abc"
    run_dirs = sorted(name for name in os.listdir(str(tmp_path)) if os.path.isdir(str(tmp_path / name)))
    assert run_dirs == ["00000-write-it"]
    assert os.path.isfile(str(tmp_path / "00000-write-it" / "log.txt"))
    assert not os.path.isdir(str(tmp_path / "00000-write-it" / "src"))  # No copy of the sources.


def test_num_range_is_a_small_sequence():
    seeds = cli.NumRange("0-99999999")
    assert len(seeds) == 100000000 and seeds[0] == 0 and seeds[-1] == 99999999 and seeds[5000] == 5000
    mixed = cli.NumRange(" 7, 1-3,10 ")
    assert list(mixed) == [7, 1, 2, 3, 10] and mixed == [7, 1, 2, 3, 10] and mixed[1:3] == [1, 2]
    assert [mixed[i] for i in range(-5, 5)] == [7, 1, 2, 3, 10] * 2 and mixed.max() == 10
    assert mixed + cli.NumRange("4") == [7, 1, 2, 3, 10, 4]
    with pytest.raises(IndexError):
        mixed[5]
    data = pickle.dumps(seeds)
    assert len(data) < 200 and b"0-99999999" in data
    assert pickle.loads(data) == seeds and len(pickle.loads(data)) == 100000000
    assert repr(seeds) == "NumRange('0-99999999')"


def test_parse_seeds_and_finite_float():
    assert list(cli.parse_seeds("4294967295")) == [4294967295]
    with pytest.raises(argparse.ArgumentTypeError, match=r"seeds must be in 0\.\.4294967295, got 4294967296"):
        cli.parse_seeds("1,4294967290-4294967296")
    with pytest.raises(argparse.ArgumentTypeError, match="expected numbers"):
        cli.parse_seeds("-1")
    assert cli.finite_float("0.5") == 0.5 and cli.finite_float("-1e3") == -1000.0
    for bad in ("nan", "inf", "-inf", "1e999", "NaN"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a finite number"):
            cli.finite_float(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number, got 'x'"):
        cli.finite_float("x")


def test_argument_parser_errors_are_one_line(capsys):
    parser = cli.ArgumentParser(prog="tool.py")
    sub = parser.add_subparsers(dest="command").add_parser("go")
    sub.add_argument("--x", type=cli.finite_float, required=True)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["go", "--x=nan"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == ("tool.py go: error: argument --x: expected a finite number, got 'nan' "
                                       "(see --help)\n")
    with pytest.raises(SystemExit):
        parser.parse_args(["go"])
    assert capsys.readouterr().err == "tool.py go: error: the following arguments are required: --x (see --help)\n"


# ------------------------------------------------------------------------------------------------------
# --help without TensorFlow; TensorFlow's start-up chatter.

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("args", [["run_generator.py", "--help"], ["run_generator.py", "generate-images", "--help"],
                                  ["run_projector.py", "--help"], ["run_projector.py", "project-image-files", "-h"],
                                  ["run_metrics.py", "--help"], ["dataset_tool.py", "--help"],
                                  ["dataset_tool.py", "create_from_images", "--help"]])
def test_help_does_not_import_tensorflow(args):
    result = subprocess.run([sys.executable, "-X", "importtime", os.path.join(REPO_DIR, args[0])] + args[1:],
                            cwd=REPO_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=120)
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr[-2000:]
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "argparse" in imported  # The -X importtime listing is there ...
    assert [name for name in imported if name.split(".")[0] == "tensorflow"] == []  # ... without TensorFlow.


CHATTER = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796198047.587354   30039 port.cc:153] oneDNN custom operations are on. You may see slightly different.
I0000 00:00:1796198047.671909   30039 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use ...
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
2026-12-02 07:55:09.749258: I tensorflow/core/platform/cpu_feature_guard.cc:142] Your CPU supports instructions
"""


def test_without_startup_chatter():
    import dnnlib.tflib as tflib
    kept = "E0000 00:00:1.5 1 something.cc:1] a real error\nTraceback (most recent call last):\n"
    assert tflib.without_startup_chatter(CHATTER + kept + CHATTER) == kept
    assert tflib.without_startup_chatter("oneDNN custom operations are on. (quoted by a user)\n") != ""


def test_import_quietly_filters_only_the_chatter(tmp_path, monkeypatch, capfd):
    import dnnlib.tflib as tflib
    (tmp_path / "noisy_module_ok.py").write_text(
        "import os\nos.write(2, %r.encode())\nVALUE = 7\n" % (CHATTER + "a real warning\n"))
    (tmp_path / "noisy_module_bad.py").write_text(
        "import os\nos.write(2, %r.encode())\nraise ImportError('broken')\n" % CHATTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    capfd.readouterr()
    assert tflib.import_quietly("noisy_module_ok").VALUE == 7
    assert capfd.readouterr().err == "a real warning\n"
    with pytest.raises(ImportError, match="broken"):
        tflib.import_quietly("noisy_module_bad")
    assert capfd.readouterr().err == CHATTER  # A failed import shows everything it printed.


# A plain session: init_tf() would set TF_CPP_MIN_LOG_LEVEL=1 (as the official code does) also when verbose.
_SESSION_SCRIPT = ("import dnnlib.tflib as tflib; import tensorflow.compat.v1 as tf; "
                   "print(tf.Session().run(tf.constant(1) + 1))")


@pytest.mark.parametrize("verbose", [None, "1"])
def test_tensorflow_startup_is_quiet_unless_asked(verbose):
    import tensorflow.compat.v1 as tf
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", "STYLEGAN2_TF_VERBOSE")}
    env["PYTHONPATH"] = REPO_DIR
    if verbose:
        env["STYLEGAN2_TF_VERBOSE"] = verbose
    result = subprocess.run([sys.executable, "-c", _SESSION_SCRIPT], cwd=REPO_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert result.returncode == 0 and result.stdout == "2\n", result.stderr
    if not verbose:
        assert result.stderr == ""
    elif tf.VERSION.startswith("1."):
        assert "cpu_feature_guard" in result.stderr  # TensorFlow 1.15 logs it when the session starts.
    else:
        assert "oneDNN custom operations are on" in result.stderr and "absl::InitializeLog()" in result.stderr


def _first_import_line(tree, is_wanted):
    """Line of the first `import`/`from ... import` in `tree` (module level or inside a function) that
    `is_wanted(module_name)` accepts; None if there is none."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
        else:
            continue
        if any(is_wanted(name) for name in names):
            lines.append(node.lineno)
    return min(lines) if lines else None


def test_modules_import_dnnlib_tflib_before_tensorflow():
    # dnnlib.tflib turns on the oneDNN kernels (NCHW convolutions on CPUs without AVX-512) and quiets TensorFlow's
    # start-up, both only if it is imported first; any of these modules may be the first one a program imports.
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO_DIR, stdout=subprocess.PIPE,
                           universal_newlines=True, check=True).stdout.split()
    checked, wrong = 0, []
    for path in files:
        if path.startswith(("tests/", "dnnlib/tflib/")) or path == "benchmarks/onednn_conv_stride_repro.py":
            continue  # conftest sets the options itself; tflib's own modules load after its __init__; plain TF.
        with open(os.path.join(REPO_DIR, path)) as source:
            tree = ast.parse(source.read())
        tf_line = _first_import_line(tree, lambda name: name.split(".")[0] == "tensorflow")
        if tf_line is None:
            continue
        tflib_line = _first_import_line(tree, lambda name: name.startswith("dnnlib.tflib"))
        checked += 1
        if tflib_line is None or tflib_line > tf_line:
            wrong.append("%s:%d" % (path, tf_line))
    assert checked >= 20 and wrong == []


def test_reading_a_dataset_first_is_quiet(tmp_path):
    # training.dataset is the first TensorFlow module run_training.py imports; building its iterator used to
    # print TensorFlow's start-up lines and three deprecation notices from inside TF 2.x's make_initializer.
    import dataset_tool
    images = np.random.RandomState(1).randint(0, 256, size=(4, 1, 8, 8)).astype(np.uint8)
    with dataset_tool.TFRecordExporter(str(tmp_path / "tiny"), len(images), print_progress=False) as tfr:
        for img in images:
            tfr.add_image(img)
    script = ("from training import dataset; "
              "print(dataset.TFRecordDataset(%r, repeat=False, shuffle_mb=0).shape)" % str(tmp_path / "tiny"))
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", "STYLEGAN2_TF_VERBOSE", "TF_ENABLE_ONEDNN_OPTS")}
    env["PYTHONPATH"] = REPO_DIR
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert result.returncode == 0 and result.stdout == "[1, 8, 8]\n", result.stderr
    assert result.stderr == ""
