"""dnnlib.cli: the argument types, the error line and the run-dir helper shared by the command-line tools."""

import argparse
import os

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
