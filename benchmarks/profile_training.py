"""Profile: where the training loop's time goes, by TensorFlow op type, from full traces of its session runs.

Usage: python benchmarks/profile_training.py [--config config-f] [--resolution 32] [--fmap-base 1024]
           [--fmap-max 256] [--minibatch 16] [--minibatch-gpu 8] [--minibatches 6] [--warmup 2] [--top 25]

Runs the real training loop (run_training's configuration, no metrics, no snapshots) on a synthetic dataset
for --minibatches minibatches; after the first --warmup ones (graph construction, first-run costs) every
`Session.run` is traced (RunOptions FULL_TRACE), and the op times of the traces are summed by op type. Prints
the session runs per minibatch, the wall time of the traced runs, and the op types that took the most time
(summed over threads, so the total exceeds the wall time on several cores). Tracing adds overhead: read the
shares, not the absolute times; benchmarks/bench_training.py measures speed.
"""

import argparse
import collections
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Every traced run makes TensorFlow warn that it collected no GPU trace; keep its C++ warnings out.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dnnlib  # noqa: E402
import dnnlib.tflib as tflib  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
from bench_training import training_kwargs  # noqa: E402


class SessionTracer:
    """Wraps `tf.Session.run`: once `tracing` is set, traces each run and sums its op times."""

    def __init__(self):
        self.tracing = False
        self.num_traced_runs = 0
        self.traced_wall_sec = 0.0
        self.op_micros = collections.Counter()  # op type -> microseconds, summed over the traced runs
        self.op_counts = collections.Counter()
        self.node_micros = collections.Counter()  # (op type, node name) -> microseconds
        self._original_run = None

    def install(self):
        self._original_run = tf.Session.run
        tracer = self

        def run(session, fetches, feed_dict=None, options=None, run_metadata=None):
            if not tracer.tracing or options is not None:
                return tracer._original_run(session, fetches, feed_dict, options, run_metadata)
            metadata = tf.RunMetadata()
            start = time.time()
            result = tracer._original_run(session, fetches, feed_dict,
                                          tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), metadata)
            tracer.traced_wall_sec += time.time() - start
            tracer.num_traced_runs += 1
            tracer._add(metadata.step_stats)
            return result

        tf.Session.run = run

    def uninstall(self):
        tf.Session.run = self._original_run

    def _add(self, step_stats):
        for device in step_stats.dev_stats:
            if device.device.startswith("/host:"):  # TF 1.15 lists every op a second time under "/host:CPU".
                continue
            for node in device.node_stats:
                # timeline_label reads "<node name> = <OpType>(<inputs>)"; a few internal nodes have none.
                match = re.match(r"[^=]*= *([A-Za-z0-9_]+)", node.timeline_label)
                op_type = match.group(1) if match else node.node_name.split(":")[0]
                self.op_micros[op_type] += node.all_end_rel_micros
                self.op_counts[op_type] += 1
                self.node_micros[(op_type, node.node_name)] += node.all_end_rel_micros


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config-f")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--fmap-base", type=int, default=1024)
    parser.add_argument("--fmap-max", type=int, default=256)
    parser.add_argument("--minibatch", type=int, default=16)
    parser.add_argument("--minibatch-gpu", type=int, default=8)
    parser.add_argument("--minibatches", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2, help="minibatches before tracing starts")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--nodes-of", default=None, metavar="OP_TYPE",
                        help="also list the --top slowest nodes of this op type by name (where it comes from)")
    args = parser.parse_args()

    work_dir = tempfile.mkdtemp(prefix="profile_training_")
    tracer = SessionTracer()
    try:
        kwargs = training_kwargs(args.config, args.resolution, args.minibatch, args.minibatch_gpu, args.minibatches,
                                 1, work_dir, args.fmap_base, args.fmap_max)
        # The loop reports a tick after each minibatch: the tick after `warmup` minibatches turns tracing on.
        ticks = [0]
        original_tick = tflib.autosummary.save_summaries

        def save_summaries(*a, **k):
            ticks[0] += 1
            if ticks[0] == args.warmup:
                tracer.tracing = True
            return original_tick(*a, **k)

        tflib.autosummary.save_summaries = save_summaries
        tracer.install()
        tflib.reset_tf()
        dnnlib.submit_run(**kwargs)
    finally:
        tracer.uninstall()
        shutil.rmtree(work_dir, ignore_errors=True)

    traced_minibatches = args.minibatches - args.warmup
    total = sum(tracer.op_micros.values())
    print()
    print("TF %s, %s %dx%d, fmap_base %d, fmap_max %d, minibatch %d (%d per tower), %d cores"
          % (tf.__version__, args.config, args.resolution, args.resolution, args.fmap_base, args.fmap_max,
             args.minibatch, args.minibatch_gpu, os.cpu_count()))
    print("traced: %d minibatches, %d session runs (%.1f per minibatch), %.2f s wall (%.2f s per minibatch)"
          % (traced_minibatches, tracer.num_traced_runs, tracer.num_traced_runs / max(traced_minibatches, 1),
             tracer.traced_wall_sec, tracer.traced_wall_sec / max(traced_minibatches, 1)))
    print("op time summed over threads: %.2f s" % (total / 1e6))
    print()
    print("%-32s %10s %8s %8s" % ("op type", "sec", "share", "count"))
    for op_type, micros in tracer.op_micros.most_common(args.top):
        print("%-32s %10.3f %7.1f%% %8d" % (op_type, micros / 1e6, 100.0 * micros / max(total, 1),
                                              tracer.op_counts[op_type]))
    if args.nodes_of:
        nodes = [(name, micros) for (op_type, name), micros in tracer.node_micros.items() if op_type == args.nodes_of]
        print()
        print("slowest %s nodes:" % args.nodes_of)
        for name, micros in sorted(nodes, key=lambda item: -item[1])[:args.top]:
            print("%10.3f  %s" % (micros / 1e6, name))


if __name__ == "__main__":
    main()
