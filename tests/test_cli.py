"""dnnlib.cli: the argument types, the error line and the run-dir helper shared by the command-line tools."""

import argparse
import os
import pickle

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
