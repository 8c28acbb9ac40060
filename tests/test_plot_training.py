"""plot_training.py: scalars read back from a run dir's TensorBoard events, the PNG, and its one-line errors."""

import os

import numpy as np
import PIL.Image
import pytest
import tensorflow.compat.v1 as tf

import plot_training


def write_events(run_dir, values_by_tag, steps):
    """A run dir whose event file holds `values_by_tag[tag][i]` at step (images) `steps[i]`."""
    os.makedirs(str(run_dir), exist_ok=True)
    writer = tf.summary.FileWriter(str(run_dir), graph=None)
    for i, step in enumerate(steps):
        values = [tf.Summary.Value(tag=tag, simple_value=v[i]) for tag, v in sorted(values_by_tag.items())]
        writer.add_summary(tf.Summary(value=values), step)
    writer.close()
    return str(run_dir)


def test_read_scalars_in_kimg_and_step_order(tmp_path):
    run_dir = write_events(tmp_path / "run", {"Progress/augment": [0.0, 0.25, 0.125], "Progress/rt": [0.5, 0.75, 1.0]},
                           steps=[0, 4032, 2016])
    scalars = plot_training.read_scalars(run_dir)
    assert scalars["Progress/augment"] == ([0.0, 2.016, 4.032], [0.0, 0.125, 0.25])
    assert scalars["Progress/rt"] == ([0.0, 2.016, 4.032], [0.5, 1.0, 0.75])


def test_a_run_and_its_resumption_are_one_line(tmp_path):
    first = write_events(tmp_path / "00000-run", {"Progress/rt": [0.5, 0.625, 0.75]}, steps=[0, 4000, 8000])
    resumed = write_events(tmp_path / "00001-run", {"Progress/rt": [0.875, 0.375]}, steps=[8000, 12000])
    assert plot_training.read_scalars(first + "," + resumed)["Progress/rt"] == ([0.0, 4.0, 8.0, 12.0],
                                                                                 [0.5, 0.625, 0.875, 0.375])


def test_plot_two_runs_writes_a_png(tmp_path):
    run_a = write_events(tmp_path / "a", {"Progress/augment": [0.0, 0.1], "Progress/rt": [0.3, 0.7]}, [0, 4000])
    run_b = write_events(tmp_path / "b", {"Progress/rt": [0.2, 0.9]}, [0, 4000])  # A run without augment: no line.
    output = tmp_path / "curves.png"
    assert plot_training.main([run_a, run_b, "--labels=ada,noaug", "--output=%s" % output]) == 0
    image = np.asarray(PIL.Image.open(str(output)).convert("L"))
    assert image.shape == (520, 700)  # Two panels of 7 x 2.6 inches at 100 dpi.
    assert (image < 128).mean() > 0.005  # Lines, axes and text, not a blank page.
    plot_training.main([run_a])
    assert os.path.isfile(os.path.join(run_a, "curves.png"))  # The default output.


@pytest.mark.parametrize("case", ["no_dir", "no_events", "unknown_stat", "label_count"])
def test_errors_are_one_line_and_write_nothing(tmp_path, capsys, case):
    run_dir = write_events(tmp_path / "run", {"Progress/rt": [0.5]}, [0])
    os.makedirs(str(tmp_path / "empty"))
    args, expected = {
        "no_dir": ([str(tmp_path / "missing")], '"%s": no such run dir' % (tmp_path / "missing")),
        "no_events": ([str(tmp_path / "empty")], "no TensorBoard event files"),
        "unknown_stat": ([run_dir, "--stats=Loss/G"], 'no run dir has the statistic "Loss/G"; they have: Progress/rt'),
        "label_count": ([run_dir, "--labels=a,b", "--stats=Progress/rt"], "--labels has 2 names for 1 runs"),
    }[case]
    output = tmp_path / "out.png"
    assert plot_training.main(args + ["--output=%s" % output]) == 1
    err = capsys.readouterr().err
    assert ": error: " in err and expected in err and err.count("\n") == 1
    assert not output.exists()
