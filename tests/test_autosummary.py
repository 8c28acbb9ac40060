"""dnnlib.tflib.autosummary: means written to TensorBoard event files, resets, Python values, new graphs."""

import glob
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from dnnlib.tflib import autosummary
from conftest import make_session


@pytest.fixture(autouse=True)
def clean_autosummary_state():
    autosummary.reset()
    yield
    autosummary.reset()


def read_scalars(log_dir):
    """{step: {tag: value}} of all scalar summaries in the event files of `log_dir`."""
    scalars = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for event in tf.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    scalars.setdefault(event.step, {})[value.tag] = value.simple_value
    return scalars


def test_means_are_written_and_accumulators_reset(tmp_path):
    with tf.Graph().as_default(), make_session(2).as_default():
        x_in = tf.placeholder(tf.float32, [None, 3])
        flag_in = tf.placeholder(tf.bool, [])
        # From inside name, device and control-dependency scopes.
        with tf.name_scope("Tower1"), tf.device("/cpu:1"), tf.control_dependencies([tf.no_op()]):
            out = autosummary.autosummary("Loss/x", x_in, passthru=x_in * 2)
            conditional = autosummary.autosummary("Loss/conditional", tf.reduce_mean(x_in), condition=flag_in)
        tflib.init_uninitialized_vars()
        writer = tf.summary.FileWriter(str(tmp_path))

        x1 = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
        x2 = np.array([[10, 20, 30]], np.float32)
        np.testing.assert_array_equal(tflib.run(out, {x_in: x1}), x1 * 2)
        tflib.run(out, {x_in: x2})
        tflib.run(conditional, {x_in: x1, flag_in: True})
        tflib.run(conditional, {x_in: x2, flag_in: False})
        assert autosummary.autosummary("Progress/tick", 3, passthru="unchanged") == "unchanged"
        autosummary.autosummary("Progress/tick", np.array([5.0, 7.0]))
        autosummary.save_summaries(writer, global_step=100)

        tflib.run(out, {x_in: x2})  # Only what comes after the save counts for the next one.
        tflib.run(conditional, {x_in: x2, flag_in: True})
        autosummary.autosummary("Progress/tick", 1.5)
        autosummary.save_summaries(writer, global_step=200)
        writer.close()

    scalars = read_scalars(str(tmp_path))
    assert sorted(scalars) == [100, 200]
    np.testing.assert_allclose(scalars[100]["Loss/x"], np.mean(np.concatenate([x1.ravel(), x2.ravel()])), rtol=1e-6)
    np.testing.assert_allclose(scalars[100]["Loss/conditional"], np.mean(x1), rtol=1e-6)
    np.testing.assert_allclose(scalars[100]["Progress/tick"], 5.0, rtol=1e-6)
    np.testing.assert_allclose(scalars[200]["Loss/x"], 20.0, rtol=1e-6)
    np.testing.assert_allclose(scalars[200]["Loss/conditional"], 20.0, rtol=1e-6)
    np.testing.assert_allclose(scalars[200]["Progress/tick"], 1.5, rtol=1e-6)


def test_variables_live_under_autosummary_scope():
    with tf.Graph().as_default(), make_session(1).as_default():
        with tf.variable_scope("G"), tf.name_scope("deep/inside"):
            autosummary.autosummary("Timing/sec_per_tick", tf.constant(1.0))
        names = [var.name for var in tf.global_variables()]
    assert names == ["Autosummary/Timing/sec_per_tick/accumulator:0"]


def test_bad_names_and_finalized_graph_raise():
    with tf.Graph().as_default(), make_session(1).as_default():
        for bad_name in ["", "has space", "a//b", "/leading", "trailing/", "bad:colon"]:
            with pytest.raises(ValueError, match="invalid name"):
                autosummary.autosummary(bad_name, tf.constant(1.0))
        autosummary.autosummary("Loss/G", tf.constant(1.0))
        assert autosummary.finalize_autosummaries() is None  # No custom scalars unless enabled.
        with pytest.raises(RuntimeError, match="finalized"):
            autosummary.autosummary("Loss/new", tf.constant(1.0))
        autosummary.autosummary("Loss/G", tf.constant(2.0))  # Existing names remain usable.


def test_python_value_with_a_new_name_after_the_first_save_is_written(tmp_path):
    # A resumed training run whose first tick is no snapshot tick saves before any metric has a value.
    with tf.Graph().as_default(), make_session(1).as_default():
        loss = autosummary.autosummary("Loss/G", tf.constant([1.0, 2.0]))
        tflib.init_uninitialized_vars()
        writer = tf.summary.FileWriter(str(tmp_path))
        tflib.run(loss)
        autosummary.save_summaries(writer, global_step=1)
        autosummary.autosummary("Metrics/fid", 12.5)
        autosummary.autosummary("Metrics/fid", 13.5)
        tflib.run(loss)
        autosummary.save_summaries(writer, global_step=2)
        autosummary.save_summaries(writer, global_step=3)
        with pytest.raises(RuntimeError, match="finalized"):
            autosummary.autosummary("Loss/new", tf.constant(1.0))
        writer.close()
    scalars = read_scalars(str(tmp_path))
    assert scalars[1] == {"Loss/G": 1.5}
    assert scalars[2] == {"Loss/G": 1.5, "Metrics/fid": 13.0}
    assert np.isnan(scalars[3]["Metrics/fid"]) and np.isnan(scalars[3]["Loss/G"])


def test_reset_lets_a_new_graph_create_and_save(tmp_path):
    for run_index, log_dir in enumerate([tmp_path / "train", tmp_path / "project"]):
        with tf.Graph().as_default(), make_session(1).as_default():
            value = autosummary.autosummary("Loss/value", tf.constant([1.0, 3.0]) * (run_index + 1))
            tflib.init_uninitialized_vars()
            tflib.run(value)
            writer = tf.summary.FileWriter(str(log_dir))
            autosummary.save_summaries(writer, global_step=run_index)
            writer.close()
        autosummary.reset()
        np.testing.assert_allclose(read_scalars(str(log_dir))[run_index]["Loss/value"], 2.0 * (run_index + 1))


def test_reset_tf_resets_autosummaries():
    with tf.Graph().as_default(), make_session(1).as_default():
        autosummary.autosummary("Loss/a", tf.constant(1.0))
        autosummary.finalize_autosummaries()
    tflib.reset_tf()
    try:
        autosummary.autosummary("Loss/b", tf.constant(1.0))  # Would raise if the finalized state had survived.
        assert [var.name for var in tf.global_variables()] == ["Autosummary/Loss/b/accumulator:0"]
    finally:
        # reset_tf() entered its session as the default for good: leave it, so later tests start clean.
        session = tf.get_default_session()
        session._default_session.__exit__(None, None, None)
        session.close()
        tf.reset_default_graph()
    assert tf.get_default_session() is None


def test_custom_scalar_margins(tmp_path, monkeypatch):
    """The mean +- std margins are written where tensorboard is installed; without it, only the mean."""
    monkeypatch.setattr(autosummary, "enable_custom_scalars", True)
    with tf.Graph().as_default(), make_session(1).as_default():
        value = autosummary.autosummary("Loss/G", tf.constant([1.0, 3.0]))
        tflib.init_uninitialized_vars()
        tflib.run(value)
        writer = tf.summary.FileWriter(str(tmp_path))
        autosummary.save_summaries(writer, global_step=1)
        writer.close()
    scalars = read_scalars(str(tmp_path))[1]
    if not autosummary._has_tensorboard():
        assert scalars == {"Loss/G": 2.0}
        return
    np.testing.assert_allclose([scalars["Loss/G"], scalars["xCustomScalars/Loss/G/margin_lo"],
                                scalars["xCustomScalars/Loss/G/margin_hi"]], [2.0, 1.0, 3.0], rtol=1e-6)
