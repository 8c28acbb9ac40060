"""Profile: where `Gs.run`'s time goes, by TensorFlow op type, and how fast its convolutions run (GFLOP/s).

Usage: python benchmarks/profile_generator.py [--config config-f] [--resolution 256] [--batch 8] [--runs 3]
           [--fmap-base N] [--fmap-max N] [--bfloat16] [--top 15]

Builds the generator of benchmarks/bench_generator.py (random weights), makes one warm-up `Gs.run` call, then
traces --runs calls (RunOptions FULL_TRACE) and prints, per batch: the op types that took the most time (summed
over threads, so the total exceeds the wall time on several cores), the floating-point work of the convolutions
(2 x multiply-adds, from the graph's shapes) with the rate each convolution node reached, and the time all of
them would take at the fastest rate among the big ones. Tracing adds a little overhead; bench_generator.py
measures speed.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Every traced run makes TensorFlow warn that it collected no GPU trace; keep its C++ warnings out.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import dnnlib.tflib  # noqa: E402,F401  (before TensorFlow: it quiets TensorFlow's start-up)
import tensorflow.compat.v1 as tf  # noqa: E402
from bench_generator import build_generator, run_kwargs, width_kwargs_of  # noqa: E402
from bench_training import enable_bfloat16_or_exit  # noqa: E402
from profile_training import SessionTracer  # noqa: E402

CONV_OP_TYPES = ("Conv2D", "Conv2DBackpropInput", "DepthwiseConv2dNative")


def conv_flops(op, batch):
    """Floating-point operations (2 per multiply-add) of one convolution op of the graph for `batch` images,
    from its static shapes (an unknown leading dimension is taken to be `batch`); None where a shape is unknown."""
    filter_shape = op.inputs[1].shape.as_list()
    if op.type == "Conv2DBackpropInput":
        # A transposed convolution: every value of the small image (input 2) meets kh x kw x the big image's
        # channels (the filter is [kh, kw, big image's channels, small image's channels]).
        values_shape, macs_per_value = op.inputs[2].shape.as_list(), filter_shape[:3]
    elif op.type == "Conv2D":  # Every output value meets kh x kw x in channels (filter [kh, kw, in, out]).
        values_shape, macs_per_value = op.outputs[0].shape.as_list(), filter_shape[:3]
    else:  # DepthwiseConv2dNative: every output value meets kh x kw values of one channel.
        values_shape, macs_per_value = op.outputs[0].shape.as_list(), filter_shape[:2]
    known_dims = values_shape[1:] + macs_per_value
    if not values_shape or any(dim is None for dim in known_dims):
        return None
    images = values_shape[0] if values_shape[0] is not None else batch
    return 2 * images * int(np.prod(values_shape[1:])) * int(np.prod(macs_per_value))


def conv_node_table(tracer, graph, batch, runs):
    """[(node name, op type of the graph, seconds per batch, FLOP per batch or None)] of the traced convolutions,
    slowest first. The traces name kernels by the op they run (`_MklNativeConv2D`...), the graph by its own."""
    rows = []
    for (_, node_name), micros in tracer.node_micros.items():
        name = node_name.split(":")[0]  # TF 1.15 names some nodes "<name>:<op type>".
        try:
            op = graph.get_operation_by_name(name)
        except (KeyError, ValueError):  # Nodes the runtime added, not in the graph.
            continue
        if op.type in CONV_OP_TYPES:
            rows.append((name, op.type, micros / 1e6 / runs, conv_flops(op, batch)))
    return sorted(rows, key=lambda row: -row[2])


def print_profile(tracer, graph, args):
    total = sum(tracer.op_micros.values()) / 1e6 / args.runs
    print("traced: %d Gs.run calls, %.3f s wall per batch; op time summed over threads %.3f s per batch"
          % (tracer.num_traced_runs, tracer.traced_wall_sec / args.runs, total))
    print()
    print("%-34s %10s %8s %8s" % ("op type", "s/batch", "share", "count"))
    for op_type, micros in tracer.op_micros.most_common(args.top):
        seconds = micros / 1e6 / args.runs
        print("%-34s %10.3f %7.1f%% %8d" % (op_type, seconds, 100 * seconds / max(total, 1e-9),
                                              tracer.op_counts[op_type] // args.runs))
    rows = conv_node_table(tracer, graph, args.batch, args.runs)
    measured = [(seconds, flops) for _, _, seconds, flops in rows if flops]
    if not measured:
        return
    conv_seconds = sum(seconds for seconds, _ in measured)
    conv_gflop = sum(flops for _, flops in measured) / 1e9
    big = [flops / 1e9 / seconds for seconds, flops in measured if seconds >= 0.01 * conv_seconds]
    best_rate = max(big)
    print()
    print("convolutions: %.3f GFLOP per batch in %.3f s (%.0f GFLOP/s); at the fastest big one's %.0f GFLOP/s "
          "they would take %.3f s" % (conv_gflop, conv_seconds, conv_gflop / conv_seconds, best_rate,
                                      conv_gflop / best_rate))
    print()
    print("%10s %9s %9s  %-22s %s" % ("s/batch", "GFLOP", "GFLOP/s", "op type", "node"))
    for name, op_type, seconds, flops in rows[:args.top]:
        gflop = flops / 1e9 if flops else float("nan")
        print("%10.3f %9.3f %9.0f  %-22s %s" % (seconds, gflop, gflop / max(seconds, 1e-9), op_type, name))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=["config-e", "config-f"], default="config-f")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8, help="images per Gs.run call (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="traced Gs.run calls (default: %(default)s)")
    parser.add_argument("--fmap-base", type=int, default=None, help="G's fmap_base (default: config-f's)")
    parser.add_argument("--fmap-max", type=int, default=None, help="G's fmap_max (default: config-f's)")
    parser.add_argument("--bfloat16", action="store_true", help="convolutions and matrix products in bfloat16")
    parser.add_argument("--top", type=int, default=15, help="rows of each table (default: %(default)s)")
    args = parser.parse_args()
    if args.bfloat16:
        enable_bfloat16_or_exit(parser.prog)

    Gs, num_params = build_generator(args.resolution, **width_kwargs_of(args.config, args.fmap_base, args.fmap_max))
    latents = np.random.RandomState(0).randn(args.batch, *Gs.input_shape[1:])
    Gs.run(latents, None, **run_kwargs())  # Warm-up: graph construction, kernel selection.
    tracer = SessionTracer()
    tracer.install()
    tracer.tracing = True
    try:
        for _ in range(args.runs):
            Gs.run(latents, None, **run_kwargs())
    finally:
        tracer.uninstall()
    print("TF %s, %s G %dx%d (%d parameters), batch %d, %d cores%s"
          % (tf.__version__, args.config, args.resolution, args.resolution, num_params, args.batch, os.cpu_count(),
             ", bfloat16" if args.bfloat16 else ""))
    print_profile(tracer, tf.get_default_graph(), args)


if __name__ == "__main__":
    main()
