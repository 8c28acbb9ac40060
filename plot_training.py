"""Plot training curves from the TensorBoard event files of one or more run dirs into a PNG.

    python plot_training.py results/00000-... results/00001-... --stats=Progress/augment,Progress/rt

One panel per statistic (an autosummary or metric tag), one line per run, against training progress in kimg.
"""

import argparse
import glob
import os
import sys

from dnnlib import cli
from dnnlib.util import write_file_atomically

DEFAULT_STATS = "Progress/augment,Progress/rt"


class PlotError(Exception):
    """A run dir or statistic that cannot be plotted (the message names it)."""


def read_scalars(run):
    """{tag: ([kimg ...], [value ...])} of every scalar in the event files of `run`, in step order.

    run: a run dir, or several joined by commas (a run and the runs that resumed it, in order: where two
    have the same step, the later one's value is kept)."""
    # Deferred: --help and argument errors need no TensorFlow. dnnlib.tflib first: it quiets TF's start-up.
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel

    event_files = []
    for run_dir in run.split(","):
        if not os.path.isdir(run_dir):
            raise PlotError('"%s": no such run dir' % run_dir)
        files = sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*")))
        if not files:
            raise PlotError('"%s": no TensorBoard event files (events.out.tfevents.*) in this run dir' % run_dir)
        event_files += files
    points = {}
    for path in event_files:
        try:
            with tflib.tf_warnings_quiet():  # summary_iterator's deprecation notice is not for our users.
                for event in tf.train.summary_iterator(path):
                    for value in event.summary.value:
                        if value.HasField("simple_value"):
                            points.setdefault(value.tag, {})[event.step] = value.simple_value
        except tf.errors.DataLossError:
            pass  # A run still writing (or killed) ends its last file with a partial record: keep what was read.
    return {tag: ([step / 1000.0 for step in sorted(by_step)], [by_step[s] for s in sorted(by_step)])
            for tag, by_step in points.items()}


def plot_runs(runs, stats, output, labels=None, title=None):
    """Write a PNG with one panel per tag in `stats` and one line per run (a run dir, or a run and its
    resumptions joined by commas), labelled by `labels`."""
    import matplotlib
    matplotlib.use("Agg")  # No display needed.
    import matplotlib.pyplot as plt

    labels = labels or [os.path.basename(os.path.normpath(run.split(",")[0])) for run in runs]
    if len(labels) != len(runs):
        raise PlotError("--labels has %d names for %d runs" % (len(labels), len(runs)))
    scalars = [read_scalars(run) for run in runs]
    for tag in stats:
        if not any(tag in s for s in scalars):
            known = sorted(set().union(*scalars))
            raise PlotError('no run dir has the statistic "%s"; they have: %s' % (tag, ", ".join(known)))
    fig, axes = plt.subplots(len(stats), 1, figsize=(7, 2.6 * len(stats)), sharex=True, squeeze=False)
    for ax, tag in zip(axes[:, 0], stats):
        for run_scalars, label in zip(scalars, labels):
            if tag in run_scalars:
                ax.plot(*run_scalars[tag], label=label)
        ax.set_ylabel(tag)
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    axes[-1, 0].set_xlabel("kimg")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    _save_png(fig, output)
    plt.close(fig)


def _save_png(fig, output):
    """Save atomically, so that an interrupted plot never leaves half a PNG."""
    import io
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_file_atomically(output, buffer.getvalue())


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="example:\n  python plot_training.py results/00000-a results/00001-b "
                                            "--labels=noaug,ada --output=curves.png")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR[,RUN_DIR...]",
                        help="training run dirs, one line each; a run and the runs that resumed it joined by commas")
    parser.add_argument("--stats", default=DEFAULT_STATS,
                        help="comma-separated TensorBoard tags, one panel each (default: %(default)s)")
    parser.add_argument("--labels", default=None, help="comma-separated legend names (default: the dir names)")
    parser.add_argument("--title", default=None, help="title above the first panel")
    parser.add_argument("--output", default=None, help="PNG to write (default: curves.png in the first run dir)")
    args = parser.parse_args(argv)
    output = args.output or os.path.join(args.runs[0].split(",")[0], "curves.png")
    labels = args.labels.split(",") if args.labels else None
    stats = [s for s in args.stats.split(",") if s]
    try:
        plot_runs(args.runs, stats, output, labels=labels, title=args.title)
    except (PlotError, OSError) as e:
        return cli.report_error(parser.prog, e)
    print('Wrote "%s"' % output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
