"""Where the towers of a training run live: devices of this process, and the other workers of a
data-parallel cluster.

One process trains `num_gpus` towers. With several workers (`worker_hosts`), every worker runs its own
towers on its own shard of the data, and the optimizers sum the gradients over all towers of all
workers with collective all-reduce ops. Worker 0, the chief, alone writes into the run dir.
"""

import numpy as np

import dnnlib.tflib as tflib  # Before TensorFlow: it enables the oneDNN kernels that run NCHW convs on CPUs.
import tensorflow.compat.v1 as tf


def parse_worker_hosts(worker_hosts):
    """'host:port,host:port' or a list of them -> list of 'host:port'; a ValueError names a bad entry."""
    entries = worker_hosts.split(",") if isinstance(worker_hosts, str) else worker_hosts
    hosts = [entry.strip() for entry in entries]
    for host in hosts:
        name, _, port = host.rpartition(":")
        if not (name and port.isdigit()):
            raise ValueError("worker hosts: %r is not host:port" % host)
    if len(hosts) != len(set(hosts)):
        raise ValueError("worker hosts: %s lists a host:port twice" % ",".join(hosts))
    return hosts


def tower_device(index, use_gpus):
    """Device of tower `index`: '/gpu:i', or the logical CPU device '/cpu:i' on machines without GPUs."""
    return "/%s:%d" % ("gpu" if use_gpus else "cpu", index)


def ensure_cpu_devices(tf_config, num_devices):
    """Give the default session `num_devices` logical CPU devices, for towers on a machine without GPUs.

    The gradient all-reduce between towers would wait forever with all of them on one device.
    """
    have = sum(1 for device in tf.get_default_session().list_devices() if device.device_type == "CPU")
    if have >= num_devices:
        return
    settings = dict(tf_config or {})
    settings["device_count.CPU"] = num_devices
    tflib.create_session(settings, force_as_default=True)


class Workers:
    """This process's place among the workers of a run (one worker when `worker_hosts` is None)."""

    def __init__(self, worker_hosts=None, worker_index=0):
        self.hosts = parse_worker_hosts(worker_hosts) if worker_hosts else None
        self.count = len(self.hosts) if self.hosts else 1
        if not 0 <= worker_index < self.count:
            raise ValueError("training_loop: worker_index %r is not in [0, %d)" % (worker_index, self.count))
        self.index = worker_index
        self.is_chief = worker_index == 0  # The one that writes snapshots, images, logs and metrics.
        self._stop_in = self._stop_votes = None

    def first_tower(self, num_gpus):
        """Global index of this worker's tower 0 among the towers of all workers."""
        return self.index * num_gpus

    def start(self, tf_config, num_gpus, use_gpus):
        """Prepare the default session: on a cluster a session on this worker's server; otherwise enough
        logical CPU devices for the towers when there are no GPUs."""
        if self.count == 1:
            if not use_gpus and num_gpus > 1:
                ensure_cpu_devices(tf_config, num_gpus)
            return
        print("Worker %d of %s: starting the server..." % (self.index, ",".join(self.hosts)))
        config = tflib.create_config_proto(tf_config)
        if not use_gpus and num_gpus > 1:
            config.device_count["CPU"] = num_gpus
        # Worker 0 leads the collective groups. The device filter keeps each worker's graph on its own
        # task, so workers exchange nothing but the all-reduced tensors.
        config.experimental.collective_group_leader = "/job:worker/replica:0/task:0"
        config.device_filters.append("/job:worker/task:%d" % self.index)
        cluster = tf.train.ClusterSpec({"worker": list(self.hosts)})
        server = tf.distribute.Server(cluster, job_name="worker", task_index=self.index, config=config, start=True)
        previous = tf.get_default_session()
        session = tflib.create_session(force_as_default=True, target=server.target, config_proto=config)
        session._stylegan2_server = server  # pylint: disable=protected-access  # Lives as long as the session.
        if previous is not None:
            previous.close()

    def dataset_args(self, dataset_args):
        """`dataset_args` for this worker's shard of the data."""
        if self.count == 1:
            return dataset_args
        return dict(dataset_args, num_shards=self.count, shard_index=self.index)

    def optimizer_args(self, opt_args):
        return dict(opt_args, num_workers=self.count) if self.count > 1 else opt_args

    def _sum(self, value):
        return tflib.optimizer.all_sum([value], self.count)[0]

    def broadcast_from_chief(self, networks, device):
        """Give the variables of `networks` the values they have on worker 0.

        Every worker adds its values, or zeros when it is not the chief, in one all-reduce; adding
        zeros is exact.
        """
        if self.count == 1:
            return
        assigns = []
        with tf.name_scope("BroadcastFromChief"), tf.device(device):
            for net in networks:
                variables = list(net.vars.values())
                shapes = [tflib.shape_to_list(var.shape) for var in variables]
                packed = tf.concat([tf.reshape(tf.cast(var, tf.float32), [-1]) for var in variables], axis=0)
                packed = self._sum(packed if self.is_chief else tf.zeros_like(packed))
                pieces = tf.split(packed, [int(np.prod(shape)) for shape in shapes], axis=0)
                for var, piece, shape in zip(variables, pieces, shapes):
                    assigns.append(tf.assign(var, tf.cast(tf.reshape(piece, shape), var.dtype.base_dtype)))
        tflib.run(assigns)

    def mean_after(self, value, step_op):
        """`value` averaged over the workers once `step_op` ran: every worker then sees a NaN of any of
        them and stops with the others."""
        if self.count == 1:
            return value
        with tf.name_scope("LossAcrossWorkers"), tf.control_dependencies([step_op]):
            return self._sum(tf.identity(value)) / self.count

    def build_stop_vote(self):
        """The graph part of `should_stop` (call while building the graph)."""
        if self.count > 1:
            with tf.name_scope("LossAcrossWorkers"), tf.device("/cpu:0"):
                self._stop_in = tf.placeholder(tf.float32, name="stop_in", shape=[])
                self._stop_votes = self._sum(tf.identity(self._stop_in))

    def should_stop(self, local_stop):
        """True on every worker when any of them wants to stop (worker 0 finding abort.txt stops all)."""
        if self.count == 1:
            return bool(local_stop)
        return tflib.run(self._stop_votes, {self._stop_in: float(local_stop)}) > 0
