"""dnnlib.submission: numbered run dirs, log.txt, _finished.txt, RunContext and abort.txt."""

import os
import pickle
import sys

import pytest

import dnnlib
from dnnlib import util
from dnnlib.submission import submit

# What the run functions below saw while running (they run inside submit_run, by name).
seen = {}


def run_prints_and_writes(value, submit_config):
    seen["submit_config_is_global"] = submit_config is dnnlib.submit_config
    seen["run_dir"] = submit_config.run_dir
    seen["value"] = value
    print("hello from the run, value=%d" % value)
    print("a warning on stderr", file=sys.stderr)
    out_path = dnnlib.make_run_dir_path("out", "result.txt")
    os.makedirs(os.path.dirname(out_path))
    with open(out_path, "w") as f:
        f.write(str(value * 2))


def run_without_submit_config_argument(**kwargs):
    seen["kwargs"] = kwargs


def run_checks_abort():
    ctx = dnnlib.RunContext(dnnlib.submit_config)
    seen["get_is_ctx"] = dnnlib.RunContext.get() is ctx
    ctx.update("0.5", cur_epoch=1, max_epoch=10)
    seen["stop_before"] = ctx.should_stop()
    open(dnnlib.make_run_dir_path("abort.txt"), "w").close()
    seen["stop_after_file"] = ctx.should_stop()
    ctx.update("0.4", cur_epoch=2, max_epoch=10)
    seen["stop_after_update"] = ctx.should_stop()
    seen["times"] = (ctx.get_time_since_start(), ctx.get_time_since_last_update(), ctx.get_last_update_interval())
    ctx.close()
    # Inside submit_run the end marker is submit_run's: written once the function has returned.
    seen["finished_after_close"] = os.path.isfile(dnnlib.make_run_dir_path("_finished.txt"))
    seen["get_after_close"] = dnnlib.RunContext.get()


def run_fails():
    dnnlib.RunContext(dnnlib.submit_config)  # Left open: submit_run must close it.
    print("about to fail")
    raise ValueError("boom 1234")


def make_config(tmp_path, desc="demo"):
    config = dnnlib.SubmitConfig()
    config.run_dir_root = str(tmp_path / "results")
    config.run_desc = desc
    config.local.do_not_copy_source_files = True
    return config


def test_submit_config_defaults():
    config = dnnlib.SubmitConfig()
    assert config.submit_target == dnnlib.SubmitTarget.LOCAL
    assert config.num_gpus == 1 and config.print_info is False and config.nvprof is False
    assert config.local.do_not_copy_source_files is False
    assert "__pycache__" in config.run_dir_ignore
    for name in ["run_id", "run_name", "run_dir", "run_func_name", "run_func_kwargs", "user_name", "task_name"]:
        assert config[name] is None
    assert config.datasets == [] and config.run_dir_extra_files == []
    restored = pickle.loads(pickle.dumps(config))
    assert restored.local.do_not_copy_source_files is False and restored.submit_target == dnnlib.SubmitTarget.LOCAL


def test_submit_run_end_to_end(tmp_path, capsys):
    seen.clear()
    stdout_before, stderr_before = sys.stdout, sys.stderr
    config = make_config(tmp_path)
    result = dnnlib.submit_run(config, __name__ + ".run_prints_and_writes", value=21)

    run_dir = str(tmp_path / "results" / "00000-demo")
    assert result.run_dir == run_dir and seen["run_dir"] == run_dir
    assert result.run_id == 0 and result.run_name == "00000-demo"
    assert seen["submit_config_is_global"] and seen["value"] == 21
    assert config.run_dir is None  # submit_run works on a copy.
    assert dnnlib.submit_config is None
    assert sys.stdout is stdout_before and sys.stderr is stderr_before

    with open(os.path.join(run_dir, "out", "result.txt")) as f:
        assert f.read() == "42"
    with open(os.path.join(run_dir, "log.txt")) as f:
        log = f.read()
    assert "dnnlib: Running %s.run_prints_and_writes() on localhost..." % __name__ in log
    assert "hello from the run, value=21\na warning on stderr\n" in log
    assert "dnnlib: Finished %s.run_prints_and_writes() in " % __name__ in log
    captured = capsys.readouterr()
    assert "hello from the run, value=21" in captured.out and "a warning on stderr" in captured.err

    assert os.path.isfile(os.path.join(run_dir, "_finished.txt"))
    assert not os.path.exists(os.path.join(run_dir, "src"))  # do_not_copy_source_files
    with open(os.path.join(run_dir, "submit_config.pkl"), "rb") as f:
        saved = pickle.load(f)
    assert saved.run_func_kwargs == {"value": 21} and saved.run_dir == run_dir and saved.run_id == 0
    with open(os.path.join(run_dir, "submit_config.txt")) as f:
        assert "'run_func_kwargs': {'value': 21}" in f.read()
    with open(os.path.join(run_dir, "run.txt")) as f:
        assert "run_func_name: %s.run_prints_and_writes" % __name__ in f.read()

    # The next run gets the next number.
    second = dnnlib.submit_run(config, __name__ + ".run_without_submit_config_argument", a=1, b="x")
    assert second.run_dir == str(tmp_path / "results" / "00001-demo")
    assert seen["kwargs"] == {"a": 1, "b": "x"}  # No submit_config for a function that does not take it.


def test_next_run_id_follows_the_largest_existing_number(tmp_path):
    results = tmp_path / "results"
    (results / "00007-older").mkdir(parents=True)
    (results / "3-short").mkdir()
    (results / "00020-a-file.txt").write_text("not a directory")
    (results / "notes").mkdir()
    result = dnnlib.submit_run(make_config(tmp_path, "next"), __name__ + ".run_without_submit_config_argument")
    assert os.path.basename(result.run_dir) == "00008-next"


def test_run_dir_creation_survives_a_race(tmp_path, monkeypatch):
    # Another process created 00000-demo after we computed the next id: we must move on to 00001.
    (tmp_path / "results" / "00000-demo").mkdir(parents=True)
    real_next_id = submit._get_next_run_id_local
    calls = []

    def stale_next_id(run_dir_root):
        calls.append(run_dir_root)
        return 0 if len(calls) == 1 else real_next_id(run_dir_root)

    monkeypatch.setattr(submit, "_get_next_run_id_local", stale_next_id)
    result = dnnlib.submit_run(make_config(tmp_path), __name__ + ".run_without_submit_config_argument")
    assert os.path.basename(result.run_dir) == "00001-demo"
    assert sorted(os.listdir(tmp_path / "results")) == ["00000-demo", "00001-demo"]
    assert os.listdir(tmp_path / "results" / "00000-demo") == []  # The other process's dir is untouched.


def test_make_run_dir_path_outside_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert dnnlib.make_run_dir_path("a", "b.txt") == os.path.join(str(tmp_path), "a", "b.txt")


def test_abort_file_makes_should_stop_true(tmp_path):
    seen.clear()
    result = dnnlib.submit_run(make_config(tmp_path, "abort"), __name__ + ".run_checks_abort")
    assert seen["get_is_ctx"]
    assert seen["stop_before"] is False
    assert seen["stop_after_file"] is True and seen["stop_after_update"] is True
    since_start, since_update, interval = seen["times"]
    assert 0 <= since_update <= since_start < 60 and 0 <= interval <= since_start
    assert not seen["finished_after_close"] and seen["get_after_close"] is None
    assert os.path.isfile(os.path.join(result.run_dir, "abort.txt"))
    assert os.path.isfile(os.path.join(result.run_dir, "_finished.txt"))
    assert not os.path.exists(os.path.join(result.run_dir, "_failed.txt"))


def test_run_context_outside_submit_run(tmp_path):
    config = util.EasyDict(run_dir=str(tmp_path))
    with dnnlib.RunContext(config) as ctx:
        assert dnnlib.RunContext.get() is ctx and not ctx.should_stop()
        (tmp_path / "abort.txt").write_text("")
        assert ctx.should_stop()
    assert (tmp_path / "_finished.txt").is_file() and dnnlib.RunContext.get() is None

    failed_dir = tmp_path / "failed"
    failed_dir.mkdir()
    with pytest.raises(KeyError):
        with dnnlib.RunContext(util.EasyDict(run_dir=str(failed_dir))):
            raise KeyError("x")
    assert sorted(os.listdir(str(failed_dir))) == ["_failed.txt"]
    assert (failed_dir / "_failed.txt").read_text() == "KeyError: 'x'\n"

    no_dir = dnnlib.RunContext(None)  # Without a run dir: never stops, close writes nothing.
    no_dir.update()
    assert not no_dir.should_stop()
    no_dir.close()


def test_exception_is_logged_reraised_and_state_restored(tmp_path):
    stdout_before, stderr_before = sys.stdout, sys.stderr
    with pytest.raises(ValueError, match="boom 1234"):
        dnnlib.submit_run(make_config(tmp_path, "fail"), __name__ + ".run_fails")
    assert sys.stdout is stdout_before and sys.stderr is stderr_before
    assert dnnlib.submit_config is None and dnnlib.RunContext.get() is None

    run_dir = tmp_path / "results" / "00000-fail"
    log = (run_dir / "log.txt").read_text()
    assert "about to fail" in log
    assert "Traceback (most recent call last)" in log and "ValueError: boom 1234" in log
    assert "dnnlib: Finished" not in log
    # A failed run is not marked finished: _failed.txt holds the one-line error.
    assert not (run_dir / "_finished.txt").exists()
    assert (run_dir / "_failed.txt").read_text() == "ValueError: boom 1234\n"


def run_closes_its_context_in_finally_then_fails():
    ctx = dnnlib.RunContext(dnnlib.submit_config)
    try:
        raise RuntimeError("failed\nover two lines")
    finally:
        ctx.close()  # As the training loop does: the context cannot tell that the run failed.


def run_exits(code):
    sys.exit(code)


def test_failed_run_gets_failed_txt_even_if_its_context_was_closed(tmp_path):
    with pytest.raises(RuntimeError):
        dnnlib.submit_run(make_config(tmp_path, "fail"), __name__ + ".run_closes_its_context_in_finally_then_fails")
    run_dir = tmp_path / "results" / "00000-fail"
    assert sorted(os.listdir(str(run_dir))) == ["_failed.txt", "log.txt", "run.txt", "submit_config.pkl",
                                                "submit_config.txt"]
    assert (run_dir / "_failed.txt").read_text() == "RuntimeError: failed over two lines\n"
    assert not dnnlib.RunContext.managed_run_dirs


def test_sys_exit_zero_is_success_and_nonzero_a_failure(tmp_path):
    with pytest.raises(SystemExit):
        dnnlib.submit_run(make_config(tmp_path, "exit"), __name__ + ".run_exits", code=0)
    with pytest.raises(SystemExit):
        dnnlib.submit_run(make_config(tmp_path, "exit"), __name__ + ".run_exits", code=3)
    assert (tmp_path / "results" / "00000-exit" / "_finished.txt").is_file()
    assert not (tmp_path / "results" / "00000-exit" / "_failed.txt").exists()
    assert (tmp_path / "results" / "00001-exit" / "_failed.txt").read_text() == "SystemExit: 3\n"
    assert not (tmp_path / "results" / "00001-exit" / "_finished.txt").exists()


def test_bad_configs_fail_before_creating_a_run_dir(tmp_path):
    config = make_config(tmp_path)
    config.num_gpus = 0
    with pytest.raises(ValueError, match="num_gpus"):
        dnnlib.submit_run(config, __name__ + ".run_without_submit_config_argument")
    with pytest.raises(ImportError, match="no_such_run_function"):
        dnnlib.submit_run(make_config(tmp_path), __name__ + ".no_such_run_function")
    with pytest.raises(TypeError, match="pickled"):
        dnnlib.submit_run(make_config(tmp_path), __name__ + ".run_without_submit_config_argument", f=lambda: 0)
    assert not (tmp_path / "results").exists()
    config = make_config(tmp_path)
    config.run_dir_root = ""
    with pytest.raises(ValueError, match="run_dir_root"):
        dnnlib.submit_run(config, __name__ + ".run_without_submit_config_argument")


def test_source_files_are_copied(tmp_path, monkeypatch):
    project = tmp_path / "project"
    package = project / "submit_test_pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "job.py").write_text("def run():\n    print('job ran')\n")
    (package / "__pycache__" / "job.cpython.pyc").write_text("compiled")
    (project / "README.txt").write_text("readme")
    (project / "runs" / "00000-old").mkdir(parents=True)
    (project / "runs" / "00000-old" / "log.txt").write_text("an earlier run")
    extra = tmp_path / "notes.txt"
    extra.write_text("extra notes")
    monkeypatch.syspath_prepend(str(project))

    config = dnnlib.SubmitConfig()
    config.run_dir_root = str(project / "runs")  # Inside the copied tree: must not copy itself.
    config.run_desc = "copy"
    config.run_dir_extra_files = [(str(extra), os.path.join("extra", "notes.txt"))]
    try:
        result = dnnlib.submit_run(config, "submit_test_pkg.job.run")
    finally:
        for name in ["submit_test_pkg.job", "submit_test_pkg"]:
            sys.modules.pop(name, None)

    assert os.path.basename(result.run_dir) == "00001-copy"
    src = os.path.join(result.run_dir, "src")
    with open(os.path.join(src, "submit_test_pkg", "job.py")) as f:
        assert "job ran" in f.read()
    assert os.path.isfile(os.path.join(src, "README.txt"))
    assert os.path.isfile(os.path.join(src, "dnnlib", "util.py"))
    assert os.path.isfile(os.path.join(src, "dnnlib", "submission", "submit.py"))
    with open(os.path.join(src, "extra", "notes.txt")) as f:
        assert f.read() == "extra notes"
    assert not os.path.exists(os.path.join(src, "runs"))
    for root, dirs, _ in os.walk(src):
        assert "__pycache__" not in dirs, root
    with open(os.path.join(result.run_dir, "log.txt")) as f:
        assert "job ran" in f.read()


def test_paths_and_user_name(monkeypatch):
    monkeypatch.setattr(submit, "_user_name_override", "alice")
    assert submit.get_user_name() == "alice"
    assert dnnlib.get_path_from_template("runs/<USERNAME>/x", dnnlib.PathType.LINUX) == "runs/alice/x"
    assert dnnlib.get_path_from_template("runs/<USERNAME>/x", dnnlib.PathType.WINDOWS) == "runs\\alice\\x"
    assert dnnlib.convert_path("a\\b/c", dnnlib.PathType.LINUX) == "a/b/c"
    assert dnnlib.convert_path("a\\b/c", dnnlib.PathType.WINDOWS) == "a\\b\\c"
    assert dnnlib.convert_path("a/b") == os.path.join("a", "b")
