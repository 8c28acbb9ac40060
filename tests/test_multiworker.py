"""Multi-worker training on loopback: two worker processes (one CPU tower each, each on its own shard of
the data, gradients summed across both) end with the same networks as one process with two towers.

Why they are comparable: the dataset is read in file order (no shuffle) with one image per tower and
step, so tower i of the single process and worker i both read images i, i + 2, i + 4, ...; and tower i
draws the same random numbers (latents, noise, mirroring) in both set-ups (StepSeededRandomOps numbers
the ops of tower i from i * 2^20 on).

Run as a script (`python tests/test_multiworker.py '<json>'`), this file is one worker: it trains and
saves the values of its G, D and Gs variables.
"""

import json
import os
import pickle
import socket
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(HERE)
if REPO_DIR not in sys.path:
    sys.path.insert(0, REPO_DIR)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import pytest  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

import dnnlib  # noqa: E402
import dnnlib.tflib as tflib  # noqa: E402
import dataset_tool  # noqa: E402
import run_training  # noqa: E402
from training import dataset  # noqa: E402
from training import misc  # noqa: E402

WORKER_TIMEOUT_S = 240  # generous: the machine may be busy; a healthy run takes well under a minute


def make_dataset(root):
    """An 8x8 RGB dataset `tiny8` of 12 smooth random images, all levels of detail."""
    rnd = np.random.RandomState(321)
    images = np.kron(rnd.rand(12, 3, 2, 2), np.ones([1, 1, 4, 4])) * 200 + rnd.rand(12, 3, 8, 8) * 55
    with dataset_tool.TFRecordExporter(os.path.join(root, "tiny8"), len(images), print_progress=False) as tfr:
        for image in images.astype(np.uint8):
            tfr.add_image(image)


def training_kwargs(data_dir, result_dir, num_gpus, worker_hosts=None, worker_index=0):
    """Tiny config-f networks, minibatch 4 with one image per tower and step (accumulation over 2 rounds
    with 2 towers), 2 minibatches; the G loss without path length regularization (it needs >= 2 images)."""
    kwargs = run_training.build_training_kwargs(
        dataset="tiny8", data_dir=data_dir, result_dir=result_dir, config_id="config-f", num_gpus=num_gpus,
        total_kimg=0.008, gamma=None, mirror_augment=True, metrics=[], minibatch_size=4, minibatch_gpu=1,
        worker_hosts=worker_hosts, worker_index=worker_index)
    kwargs.G_args.update(fmap_base=64, fmap_max=16, latent_size=16, dlatent_size=16, mapping_layers=2)
    kwargs.D_args.update(fmap_base=64, fmap_max=16)
    kwargs.G_loss_args = dict(func_name="training.loss.G_logistic_ns")
    kwargs.dataset_args.update(shuffle_mb=0, prefetch_mb=0)
    kwargs.sched_args.update(tick_kimg_base=1.0, tick_kimg_dict={})
    kwargs.grid_args = dict(size=(2, 2), layout="random")
    kwargs.update(minibatch_repeats=1, image_snapshot_ticks=100, network_snapshot_ticks=100)
    kwargs.tf_config = dict(kwargs.tf_config, **{"graph_options.rewrite_options.disable_meta_optimizer": True})
    return kwargs


def network_values(nets):
    """{network name: {local var name: value}} of Networks."""
    return {net.name: dict(zip(net.vars.keys(), tflib.run(list(net.vars.values())))) for net in nets}


def worker_main(args):
    """One worker process: train, then pickle the values of its G, D and Gs to args['out']."""
    # Worker 1 pickles nothing itself: catch its networks as the loop prints them (G, D) and sets up Gs.
    nets = {}
    print_layers, moving_average = tflib.Network.print_layers, tflib.Network.setup_as_moving_average_of

    def recording_print_layers(net, *a, **k):
        nets[net.name] = net
        return print_layers(net, *a, **k)

    def recording_moving_average(net, *a, **k):
        nets[net.name] = net
        return moving_average(net, *a, **k)

    tflib.Network.print_layers = recording_print_layers
    tflib.Network.setup_as_moving_average_of = recording_moving_average
    kwargs = training_kwargs(args["data_dir"], args["result_dir"], 1, args["worker_hosts"], args["worker_index"])
    if args["worker_index"] == 0:
        dnnlib.submit_run(**kwargs)
    else:
        run_training.run_worker(kwargs)
    with open(args["out"], "wb") as f:
        pickle.dump(network_values([nets["G"], nets["D"], nets["Gs"]]), f)


# ------------------------------------------------------------------------------------------------------

def free_ports(count):
    sockets = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("localhost", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(tmp_path, data_dir, result_dir, num_workers):
    hosts = ["localhost:%d" % port for port in free_ports(num_workers)]
    env = dict(os.environ)
    env.pop("TF_CONFIG", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    procs = []
    for index in range(num_workers):
        args = dict(data_dir=data_dir, result_dir=result_dir, worker_hosts=hosts, worker_index=index,
                    out=str(tmp_path / ("worker%d.pkl" % index)))
        log = open(str(tmp_path / ("worker%d.log" % index)), "w")
        procs.append((subprocess.Popen([sys.executable, os.path.abspath(__file__), json.dumps(args)],
                                       stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_DIR), log, args))
    return procs


def wait_for_workers(procs, tmp_path):
    """Wait for all workers; on a failure or timeout kill the others and fail with their output."""
    deadline = time.time() + WORKER_TIMEOUT_S
    try:
        while any(proc.poll() is None for proc, _, _ in procs):
            failed = [i for i, (proc, _, _) in enumerate(procs) if proc.poll() not in (None, 0)]
            if failed or time.time() > deadline:
                break
            time.sleep(0.5)
    finally:
        for proc, log, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    codes = [proc.returncode for proc, _, _ in procs]
    if any(code != 0 for code in codes):
        tails = []
        for index in range(len(procs)):
            with open(str(tmp_path / ("worker%d.log" % index))) as f:
                tails.append("--- worker %d (exit %s):\n%s" % (index, codes[index], f.read()[-3000:]))
        pytest.fail("multi-worker training failed (exit codes %s; killed after %d s if still running)\n%s"
                    % (codes, WORKER_TIMEOUT_S, "\n".join(tails)))
    values = []
    for _, _, args in procs:
        with open(args["out"], "rb") as f:
            values.append(pickle.load(f))
    return values


def load_pkl_values(path):
    with tf.Graph().as_default(), tflib.create_session().as_default():
        return network_values(misc.load_pkl(path))


@pytest.mark.slow_on_tf1  # over 4 minutes on TF 1.15, and fails there: see README
def test_two_workers_train_like_one_process_with_two_towers(tmp_path):
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    make_dataset(data_dir)
    workers_dir = str(tmp_path / "workers")
    procs = start_workers(tmp_path, data_dir, workers_dir, 2)

    # Meanwhile: the same training in this process, two towers on two logical CPU devices.
    single_dir = str(tmp_path / "single")
    kwargs = training_kwargs(data_dir, single_dir, 2)
    try:
        with tf.Graph().as_default(), tflib.create_session(dict(kwargs.tf_config, **{"device_count.CPU": 2})).as_default():
            np.random.seed(kwargs.tf_config["rnd.np_random_seed"])
            tf.set_random_seed(np.random.randint(1 << 31))
            single_run = dnnlib.submit_run(**kwargs).run_dir
    except BaseException:
        for proc, _, _ in procs:
            proc.kill()
        raise
    worker0, worker1 = wait_for_workers(procs, tmp_path)
    single = load_pkl_values(os.path.join(single_run, "network-final.pkl"))

    # Worker 0 alone wrote a run dir (named for 2 workers x 1 GPU), with the usual files.
    run_dirs = os.listdir(workers_dir)
    assert run_dirs == ["00000-stylegan2-tiny8-2x1gpu-config-f"], run_dirs
    chief_run = os.path.join(workers_dir, run_dirs[0])
    for name in ["reals.png", "fakes_init.png", "network-final.pkl", "log.txt"]:
        assert os.path.isfile(os.path.join(chief_run, name)), name
    chief = load_pkl_values(os.path.join(chief_run, "network-final.pkl"))

    # Both workers hold the networks the single process trained (to float32 summation order: the
    # all-reduce adds in another order than one process), and worker 0 saved them. (dlatent_avg,
    # a running mean of w and no optimizer update, follows each tower's own images: worker 1's is that
    # of the second tower.)
    for net in ["G", "D", "Gs"]:
        assert sorted(worker0[net]) == sorted(single[net]) == sorted(worker1[net]) == sorted(chief[net])
        for name, value in single[net].items():
            where = "%s/%s" % (net, name)
            np.testing.assert_allclose(worker0[net][name], value, rtol=1e-5, atol=1e-6, err_msg="worker 0: " + where)
            np.testing.assert_array_equal(chief[net][name], worker0[net][name], err_msg="worker 0's pickle: " + where)
            if name != "dlatent_avg":
                np.testing.assert_allclose(worker1[net][name], value, rtol=1e-5, atol=1e-6, err_msg="worker 1: " + where)
    assert np.max(np.abs(worker1["G"]["dlatent_avg"] - worker0["G"]["dlatent_avg"])) > 1e-6

    # The steps were real ones: G moved away from Gs (which barely moved from the common start).
    moved = max(np.max(np.abs(value - single["Gs"][name])) for name, value in single["G"].items()
                if name.endswith("weight"))
    assert moved > 1e-4


# ------------------------------------------------------------------------------------------------------
# Pieces that need no cluster.

def test_dataset_shards_are_disjoint_and_cover_the_data(tmp_path, sess):
    make_dataset(str(tmp_path))
    seen = []
    for index in range(3):
        dset = dataset.TFRecordDataset(str(tmp_path / "tiny8"), shuffle_mb=0, prefetch_mb=0, repeat=False,
                                       num_shards=3, shard_index=index)
        images, _ = dset.get_minibatch_np(4)
        seen.append(images)
    whole = dataset.TFRecordDataset(str(tmp_path / "tiny8"), shuffle_mb=0, prefetch_mb=0, repeat=False)
    all_images, _ = whole.get_minibatch_np(12)
    for index in range(3):
        np.testing.assert_array_equal(seen[index], all_images[index::3])
    with pytest.raises(dataset.DatasetError, match="shard_index 3 must be in"):
        dataset.TFRecordDataset(str(tmp_path / "tiny8"), num_shards=3, shard_index=3)


def test_tf_config_and_worker_flags():
    hosts, index = run_training.workers_from_tf_config(json.dumps(
        {"cluster": {"worker": ["a:1", "b:2", "c:3"]}, "task": {"type": "worker", "index": 2}}))
    assert (hosts, index) == (["a:1", "b:2", "c:3"], 2)
    hosts, index = run_training.workers_from_tf_config(json.dumps(
        {"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "worker", "index": 0}}))
    assert (hosts, index) == (["a:1", "b:2"], 1)
    for bad, message in [("{", "TF_CONFIG: not"), ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
                                                    "task type 'ps'"),
                         ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "task index 1")]:
        with pytest.raises(run_training.UsageError, match=message):
            run_training.workers_from_tf_config(bad)


def test_worker_command_line_errors_are_one_line(tmp_path, capsys):
    make_dataset(str(tmp_path))
    base = ["--data-dir", str(tmp_path), "--dataset", "tiny8", "--result-dir", str(tmp_path / "r"), "--dry-run"]
    for extra, message in [(["--worker-index", "0"], "--worker-index: needs --worker-hosts"),
                           (["--worker-hosts", "a:1,b:2"], "--worker-hosts: needs --worker-index"),
                           (["--worker-hosts", "a:1,b", "--worker-index", "0"], "'b' is not host:port"),
                           (["--worker-hosts", "a:1,b:2", "--worker-index", "2"], "--worker-index: must be in [0, 2)"),
                           (["--worker-hosts", "a:1,b:2", "--worker-index", "0", "--minibatch-size", "6",
                             "--minibatch-gpu", "2"], "x 2 workers")]:
        assert run_training.main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("run_training.py: error: ") and "\n" not in err and message in err, err
    assert not os.path.exists(str(tmp_path / "r"))


if __name__ == "__main__":
    worker_main(json.loads(sys.argv[1]))
