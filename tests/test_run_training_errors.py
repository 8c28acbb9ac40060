"""run_training.py before it trains: what it refuses in one line (and without a run dir), which pickle
--resume=latest takes and what it says about it, --tick-kimg, and --help without TensorFlow."""

import argparse
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib
import dnnlib.tflib as tflib
import dataset_tool
import run_training
from dnnlib.tflib import network_pickle
from training import resume
from training import training_loop as tl

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DESC = "stylegan2-tiny-1gpu-config-f"


def _write_dataset(folder, num_images=4, labels=False):
    rnd = np.random.RandomState(5)
    images = rnd.randint(0, 256, size=[num_images, 3, 8, 8]).astype(np.uint8)
    with dataset_tool.TFRecordExporter(folder, num_images, print_progress=False) as tfr:
        for image in images:
            tfr.add_image(image)
        if labels:
            tfr.add_labels(np.eye(2, dtype=np.float32)[np.arange(num_images) % 2])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """`tiny`: 4 images of 8x8 without labels; `labelled`: the same with 2 one-hot classes."""
    root = tmp_path_factory.mktemp("data")
    _write_dataset(str(root / "tiny"))
    _write_dataset(str(root / "labelled"), labels=True)
    return str(root)


@pytest.fixture
def submitted(monkeypatch):
    """The kwargs run_training.main would hand to dnnlib.submit_run (nothing trains)."""
    seen = []
    monkeypatch.setattr(dnnlib, "submit_run", lambda **kwargs: seen.append(kwargs))
    return seen


def _fails_in_one_line(argv, result_dir, capsys, *messages):
    assert run_training.main(argv + ["--result-dir", str(result_dir), "--metrics", "none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("run_training.py: error: ") and err.count("\n") == 1, err
    for message in messages:
        assert message in err, err
    assert not os.path.exists(str(result_dir)) or os.listdir(str(result_dir)) == []  # No run dir.
    return err


def test_folder_of_images_that_was_never_converted(tmp_path, capsys):
    pngs = tmp_path / "data" / "mypngs"
    (pngs / "cats").mkdir(parents=True)
    (pngs / "cats" / "0001.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    _fails_in_one_line(["--data-dir", str(tmp_path / "data"), "--dataset", "mypngs"], tmp_path / "results", capsys,
                       "--dataset: %s holds images, not a dataset" % pngs,
                       "python dataset_tool.py create_from_images %s-tfr %s" % (pngs, pngs), "--dataset=mypngs-tfr")
    (pngs / "cats" / "0001.png").unlink()
    _fails_in_one_line(["--data-dir", str(tmp_path / "data"), "--dataset", "mypngs"], tmp_path / "results", capsys,
                       "--dataset: %s has no .tfrecords files; dataset_tool.py" % pngs)


def test_unreadable_datasets(data_dir, tmp_path, capsys):
    broken = tmp_path / "data" / "broken"
    broken.mkdir(parents=True)
    with open(os.path.join(data_dir, "tiny", "tiny-r03.tfrecords"), "rb") as f:
        (broken / "broken-r03.tfrecords").write_bytes(f.read())
    _fails_in_one_line(["--data-dir", str(tmp_path / "data"), "--dataset", "broken"], tmp_path / "results", capsys,
                       "--dataset: dataset %s lacks the levels of resolution [4]" % broken)
    (broken / "broken-r02.tfrecords").write_bytes(b"")
    _fails_in_one_line(["--data-dir", str(tmp_path / "data"), "--dataset", "broken"], tmp_path / "results", capsys,
                       "--dataset: ", "holds no records")


def test_cond_needs_labels(data_dir, tmp_path, capsys, submitted):
    _fails_in_one_line(["--data-dir", data_dir, "--dataset", "tiny", "--cond", "true"], tmp_path / "results", capsys,
                       "--cond=true: dataset %s has no labels" % os.path.join(data_dir, "tiny"))
    assert run_training.main(["--data-dir", data_dir, "--dataset", "labelled", "--cond", "true", "--metrics", "none",
                              "--result-dir", str(tmp_path / "results")]) == 0
    assert submitted[0]["dataset_args"]["max_label_size"] == "full"


def test_bfloat16_where_unsupported(data_dir, tmp_path, capsys, submitted, monkeypatch):
    from dnnlib.tflib import precision  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv(precision.ENV_VAR, "0")
    monkeypatch.setattr(precision, "_supported_cache", [False])
    _fails_in_one_line(["--data-dir", data_dir, "--dataset", "tiny", "--bfloat16", "true"], tmp_path / "results", capsys,
                       "--bfloat16: bfloat16: this TensorFlow build cannot run bfloat16 convolutions")
    assert not submitted and not precision.bfloat16_enabled()


class _MakeDir:
    """Unpickling this calls os.mkdir(path): stands for any code a malicious pickle could run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _tiny_network_pickle(path):
    """A (G, D, Gs) pickle of tests/tiny_nets.py networks: safe mode refuses their embedded build code."""
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel
    import tiny_nets  # pylint: disable=import-outside-toplevel
    with tf.Graph().as_default(), tflib.create_session().as_default():
        G = tflib.Network("G", func_name=tiny_nets.outer_net, num_in=4)
        D = tflib.Network("D", func_name=tiny_nets.dense_net)
        network_pickle.save((G, D, G.clone("Gs")), str(path))


def test_resume_pickles_are_checked_before_the_run_dir(data_dir, tmp_path, capsys, submitted):
    base = ["--data-dir", data_dir, "--dataset", "tiny", "--resume"]
    evil, marker = tmp_path / "evil.pkl", tmp_path / "pwned"
    evil.write_bytes(pickle.dumps(_MakeDir(str(marker))))
    _fails_in_one_line(base + [str(evil)], tmp_path / "results", capsys,
                       "--resume: %s: refused in safe mode" % evil, "--allow-code-execution")
    assert not marker.exists()

    snapshot = tmp_path / "network-snapshot-000012.pkl"
    _tiny_network_pickle(snapshot)
    _fails_in_one_line(base + [str(snapshot)], tmp_path / "results", capsys,
                       "--resume: %s: refused in safe mode: network 'Tiny_inner' is built by 'dense_net'" % snapshot,
                       "--allow-code-execution")
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(snapshot.read_bytes()[:-100])
    for flags in ([], ["--allow-code-execution"]):
        _fails_in_one_line(base + [str(truncated)] + flags, tmp_path / "results", capsys,
                           "--resume: %s: truncated pickle" % truncated)

    # Allowed, it is accepted; it has no training state, so its name gives the kimg to continue from.
    assert run_training.main(base + [str(snapshot), "--allow-code-execution", "--metrics", "none",
                                     "--result-dir", str(tmp_path / "results")]) == 0
    assert submitted[-1]["resume_pkl"] == str(snapshot) and submitted[-1]["resume_kimg"] == 12.0
    assert submitted[-1]["resume_allow_code_execution"] is True and submitted[-1]["resume_state"] == "auto"


def test_check_never_runs_the_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_MakeDir(str(marker))))
    network_pickle.check(str(path), allow_code_execution=True)  # A well-formed pickle: only its structure is read.
    with pytest.raises(network_pickle.NetworkPickleError, match="refused in safe mode"):
        network_pickle.check(str(path))
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(network_pickle.NetworkPickleError, match="not a valid pickle file"):
        network_pickle.check(str(path), allow_code_execution=True)
    assert not marker.exists()


def _make_runs(result_dir, runs):
    for run, names in runs:
        os.makedirs(os.path.join(result_dir, run))
        for name in names:
            open(os.path.join(result_dir, run, name), "wb").close()


def test_resume_latest_takes_only_runs_of_the_same_description(tmp_path, capsys):
    _make_runs(str(tmp_path), [
        ("00000-" + DESC, ["network-snapshot-000004.pkl", "training-state-000004.pkl", "network-final.pkl",
                           "training-state-final.pkl"]),
        ("00001-" + DESC, ["network-snapshot-000000.pkl", "training-state-000000.pkl", "network-snapshot-000008.pkl",
                           "training-state-000008.pkl", "network-final.pkl"]),  # Final without a state: older code.
        ("00002-" + DESC + "-Gresnet-Dorig", ["network-snapshot-000016.pkl", "training-state-000016.pkl"]),
        ("00003-stylegan2-tiny-cond-1gpu-config-f", ["network-snapshot-000016.pkl", "training-state-000016.pkl"]),
        ("00004-x" + DESC, ["network-snapshot-000016.pkl", "training-state-000016.pkl"]),
        ("00005-" + DESC, ["log.txt"]),  # Started, no snapshot yet.
    ])
    found = run_training.find_resume_pkl(str(tmp_path), DESC)
    assert found == str(tmp_path / ("00001-" + DESC) / "network-snapshot-000008.pkl")
    assert capsys.readouterr().out == (
        "--resume=latest: network-snapshot-000008.pkl of run 00001-%s (its newest snapshot with a training state), the "
        "newest run of this dataset, config and GPU count that has a snapshot (newer runs without one: 00005-%s)\n"
        % (DESC, DESC))
    (tmp_path / ("00001-" + DESC) / "training-state-final.pkl").write_bytes(b"")
    found = run_training.find_resume_pkl(str(tmp_path), DESC)
    assert found == str(tmp_path / ("00001-" + DESC) / "network-final.pkl")
    assert "network-final.pkl of run 00001-%s (where that run stopped)" % DESC in capsys.readouterr().out
    for name in os.listdir(str(tmp_path / ("00001-" + DESC))):
        if name.startswith("training-state"):
            os.remove(str(tmp_path / ("00001-" + DESC) / name))
    assert run_training.find_resume_pkl(str(tmp_path), DESC).endswith("network-snapshot-000008.pkl")
    assert "(its newest snapshot; it has no training state)" in capsys.readouterr().out
    with pytest.raises(run_training.UsageError, match="no network-snapshot-"):
        run_training.find_resume_pkl(str(tmp_path), "stylegan2-tiny-2gpu-config-f")


def test_resume_latest_without_a_run_of_this_description(data_dir, tmp_path, capsys):
    _make_runs(str(tmp_path / "results"), [("00000-stylegan2-tiny-1gpu-config-e", ["network-snapshot-000004.pkl"])])
    assert run_training.main(["--data-dir", data_dir, "--dataset", "tiny", "--resume", "latest", "--metrics", "none",
                              "--result-dir", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert err == ("run_training.py: error: --resume=latest: no network-snapshot-*.pkl in any run dir %s/<number>-%s\n"
                   % (tmp_path / "results", DESC))
    assert os.listdir(str(tmp_path / "results")) == ["00000-stylegan2-tiny-1gpu-config-e"]


def test_resume_without_training_state_warns(tmp_path, capsys):
    pkl = str(tmp_path / "network-snapshot-000012.pkl")
    state = resume.TrainingState.start(pkl, "auto", resume_kimg=12.0)
    assert state.resumed_from is None and state.cur_nimg == 12000
    assert capsys.readouterr().out == (
        "warning: %s has no training state file beside it (training-state-000012.pkl): resuming its networks with a "
        "fresh optimizer state, data position and random streams, at kimg 12\n" % pkl)
    resume.TrainingState.start(pkl, None, resume_kimg=12.0)  # Not asked for a state: nothing to warn about.
    assert capsys.readouterr().out == ""
    final = str(tmp_path / "network-final.pkl")
    assert resume.state_file_for_snapshot(final) == str(tmp_path / "training-state-final.pkl")


def test_tick_kimg_reaches_the_schedule(data_dir, tmp_path, capsys, submitted):
    class Set:
        resolution_log2 = 4

    base = ["--data-dir", data_dir, "--dataset", "tiny", "--metrics", "none", "--result-dir", str(tmp_path / "r")]
    assert run_training.main(base) == 0
    assert tl.training_schedule(0, Set(), **submitted[-1]["sched_args"]).tick_kimg == 24  # The default at 16x16.
    assert run_training.main(base + ["--tick-kimg", "0.5"]) == 0
    assert tl.training_schedule(0, Set(), **submitted[-1]["sched_args"]).tick_kimg == 0.5
    growing = run_training.build_training_kwargs("tiny", data_dir, "r", "config-d", 1, 100, None, False, [],
                                                 tick_kimg=2)
    assert tl.training_schedule(10 ** 6, Set(), **growing.sched_args).tick_kimg == 2  # Every resolution.
    _fails_in_one_line(base[:-2] + ["--tick-kimg", "0"], tmp_path / "results", capsys,
                       "--tick-kimg: must be > 0, got 0")


def test_help_does_not_import_tensorflow():
    env = dict(os.environ, PYTHONPATH="")
    result = subprocess.run([sys.executable, "-X", "importtime", os.path.join(REPO_DIR, "run_training.py"), "--help"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, cwd=REPO_DIR,
                            env=env, timeout=120)
    assert result.returncode == 0 and "--tick-kimg" in result.stdout and "--resume=latest" in result.stdout
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "dnnlib" in imported and not [name for name in imported if name.startswith("tensorflow")]


def test_parsed_resume_args_for_a_run_dir(tmp_path, capsys):
    """_resume_args with --resume=latest on a pickle it may load: what the training loop gets."""
    run = tmp_path / ("00007-" + DESC)
    run.mkdir()
    _tiny_network_pickle(run / "network-snapshot-000024.pkl")
    args = argparse.Namespace(resume="latest", result_dir=str(tmp_path), allow_code_execution=True, resume_kimg=None)
    resume_args = run_training._resume_args(args, DESC)  # pylint: disable=protected-access
    assert resume_args == dict(resume_pkl=str(run / "network-snapshot-000024.pkl"), resume_kimg=24.0,
                               resume_state="auto", resume_allow_code_execution=True)
    out = capsys.readouterr().out
    assert "--resume=latest: network-snapshot-000024.pkl of run 00007-" in out and "Resuming from " in out


def write_training_state(path, cur_nimg):
    """A training state file at `cur_nimg` images, written by TrainingState.save (with one variable)."""
    state = resume.TrainingState(cur_nimg=cur_nimg)
    state.data_config, state.random_base_seed = (4, 0), 5
    with tf.Graph().as_default(), tflib.create_session().as_default():
        variable = tf.Variable(1.5, name="some_state")
        tflib.init_uninitialized_vars()
        state.save(str(path), [variable])


def test_resume_of_a_finished_run_is_refused(tmp_path, capsys):
    """--resume at or past --total-kimg would train nothing: one line that says so. The progress is the
    training state's when there is one (here 30 kimg, though the name says 24), else the name's."""
    run = tmp_path / ("00007-" + DESC)
    run.mkdir()
    _tiny_network_pickle(run / "network-snapshot-000024.pkl")
    args = argparse.Namespace(resume="latest", result_dir=str(tmp_path), allow_code_execution=True, resume_kimg=None)
    with pytest.raises(run_training.UsageError, match=r"network-snapshot-000024.pkl is at 24 kimg, already at "
                                                      r"--total-kimg 24: nothing left to train"):
        run_training._resume_args(args, DESC, total_kimg=24)  # pylint: disable=protected-access
    assert run_training._resume_args(args, DESC, total_kimg=25)["resume_kimg"] == 24.0  # pylint: disable=protected-access

    state_file = run / "training-state-000024.pkl"
    write_training_state(state_file, cur_nimg=30000)
    with pytest.raises(run_training.UsageError, match=r"is at 30 kimg, already at --total-kimg 25"):
        run_training._resume_args(args, DESC, total_kimg=25)  # pylint: disable=protected-access
    state_file.write_bytes(state_file.read_bytes()[:-20])
    with pytest.raises(run_training.UsageError, match=r"--resume: .*training-state-000024.pkl: not a readable "
                                                      r"training state file"):
        run_training._resume_args(args, DESC, total_kimg=25)  # pylint: disable=protected-access


def test_unconverted_images_answer_in_one_line_without_tensorflow(tmp_path):
    """The most common first mistake is answered at once: stderr holds the error line and nothing else."""
    (tmp_path / "data" / "pngs").mkdir(parents=True)
    (tmp_path / "data" / "pngs" / "a.jpg").write_bytes(b"\xff\xd8\xff")
    result = subprocess.run([sys.executable, "-X", "importtime", os.path.join(REPO_DIR, "run_training.py"),
                             "--data-dir", str(tmp_path / "data"), "--dataset", "pngs", "--result-dir",
                             str(tmp_path / "results")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, cwd=REPO_DIR, timeout=120)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert errors == ["run_training.py: error: --dataset: %s holds images, not a dataset (no .tfrecords files); "
                      "convert them first: python dataset_tool.py create_from_images %s-tfr %s, then train with "
                      "--dataset=pngs-tfr" % ((tmp_path / "data" / "pngs",) * 3)]
    assert "tensorflow" not in result.stderr and not (tmp_path / "results").exists()
