"""Metrics without a network: which feature networks each metric needs, the start-up check that they can be
had (local file, download cache, or a download that answers), metrics that fail without stopping the others,
and the progress bars. Nothing leaves the machine: downloads go to a server on 127.0.0.1 or to a host name
under .invalid, which never resolves."""

import functools
import http.server
import os
import threading
import time

import pytest

import dnnlib
from metrics import metric_base
from metrics.linear_separability import classifier_file_name
from metrics.metric_defaults import metric_defaults

UNRESOLVABLE = "http://stylegan2-test.invalid/metrics/"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No proxies, an empty download cache in tmp_path/cache, and feature networks looked up at UNRESOLVABLE."""
    for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    cache_dir = str(tmp_path / "cache")
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", cache_dir)
    monkeypatch.setenv(metric_base.METRICS_DIR_ENV, UNRESOLVABLE)
    return cache_dir


def test_each_metric_lists_its_feature_networks(monkeypatch):
    monkeypatch.setenv(metric_base.METRICS_DIR_ENV, "/nets")
    expected = {"fid50k": "inception_v3_features.pkl", "fid50k_full": "inception_v3_features.pkl",
                "kid50k": "inception_v3_features.pkl", "kid50k_full": "inception_v3_features.pkl",
                "is50k": "inception_v3_softmax.pkl", "pr50k3": "vgg16.pkl", "pr50k3_full": "vgg16.pkl",
                "ppl_zfull": "vgg16_zhang_perceptual.pkl", "ppl_wend": "vgg16_zhang_perceptual.pkl",
                "ppl2_wend": "vgg16_zhang_perceptual.pkl"}
    for name, file_name in expected.items():
        metric = dnnlib.util.call_func_by_name(**metric_defaults[name])
        assert [url for _what, url in metric.feature_nets()] == [os.path.join("/nets", file_name)], name
    fid = dnnlib.util.call_func_by_name(**dict(metric_defaults["fid50k"], feature_net_url="file:///x/inc.pkl"))
    assert fid.feature_nets() == [("the Inception network", "file:///x/inc.pkl")]
    ls = dnnlib.util.call_func_by_name(**metric_defaults["ls"])
    assert [url for _what, url in ls.feature_nets()] == [os.path.join("/nets", classifier_file_name(i))
                                                          for i in range(40)]
    assert ls.feature_nets()[0][0] == "the CelebA-HQ 'male' classifier"
    assert metric_base.DummyMetric(name="dummy").feature_nets() == []


def test_check_feature_nets_in_a_local_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(metric_base.METRICS_DIR_ENV, str(tmp_path))
    (tmp_path / "inception_v3_features.pkl").write_bytes(b"")
    metric_base.check_feature_nets(["fid50k", "kid50k", dict(func_name="metrics.metric_base.DummyMetric", name="d")])
    with pytest.raises(metric_base.MetricError) as info:
        metric_base.check_feature_nets(["fid50k", "pr50k3"])
    assert str(info.value) == ("metric pr50k3 needs the VGG16 network (%s), which does not exist; use --metrics=none "
                               "or put the file there" % (tmp_path / "vgg16.pkl"))
    metric_base.check_feature_nets([])


def test_check_feature_nets_offline_fails_at_once_in_one_line(offline):
    start = time.time()
    with pytest.raises(metric_base.MetricError) as info:
        metric_base.check_feature_nets(["fid50k"], skip_hint="use --metrics=none")
    assert time.time() - start < 3
    url = UNRESOLVABLE + "inception_v3_features.pkl"
    cached_name = dnnlib.util.cache_file_prefix(url) + "inception_v3_features.pkl"
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("metric fid50k needs the Inception network (%s), which is not in the cache (%s) and "
                              "cannot be downloaded (the host name does not resolve: " % (url, offline))
    assert message.endswith("; use --metrics=none, put a copy in the cache as %s, or set STYLEGAN2_CACHE_DIR to a "
                            "cache that has it (or STYLEGAN2_METRICS_DIR to a folder of the feature networks)"
                            % os.path.join(offline, cached_name))
    assert not os.path.exists(offline)  # Nothing was written.

    # The copy the message asks for is enough: no download is tried.
    os.makedirs(offline)
    with open(os.path.join(offline, cached_name), "wb") as f:
        f.write(b"a copy")
    metric_base.check_feature_nets(["fid50k", "kid50k_full"])
    with pytest.raises(metric_base.MetricError, match="^metric is50k needs the Inception softmax network"):
        metric_base.check_feature_nets(["fid50k", "is50k"])


def test_check_feature_nets_probes_downloads(offline, tmp_path):
    nets_dir = tmp_path / "served"
    nets_dir.mkdir()
    (nets_dir / "vgg16_zhang_perceptual.pkl").write_bytes(b"x" * 1000)
    handler = functools.partial(_QuietHandler, directory=str(nets_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base_url = "http://127.0.0.1:%d/" % httpd.server_address[1]
        os.environ[metric_base.METRICS_DIR_ENV] = base_url  # The fixture's monkeypatch restores it.
        metric_base.check_feature_nets(["ppl_wend", "ppl_zfull"])
        with pytest.raises(metric_base.MetricError) as info:
            metric_base.check_feature_nets(["ppl_wend", "pr50k3"], skip_hint="leave the metric out of --metrics")
        assert ("cannot be downloaded (the server does not have the file: HTTP 404 File not found); leave the "
                "metric out of --metrics, put a copy") in str(info.value)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    assert not os.path.exists(offline)  # A probe downloads nothing.


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# ------------------------------------------------------------------------------------------------------
# Failures during training, progress bars

class _FakeMetric:
    def __init__(self, name, error=None):
        self.name, self.error, self.calls = name, error, []

    def run(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.error is not None:
            raise self.error


def test_metric_group_run_each_goes_on_past_failures():
    group = metric_base.MetricGroup([])
    group.metrics = [_FakeMetric("fid50k", dnnlib.util.DownloadError("Could not download http://h/i.pkl: no")),
                     _FakeMetric("ppl_wend"), _FakeMetric("kid50k", ZeroDivisionError("division by zero"))]
    failures = group.run_each("snapshot.pkl", run_dir="/run")
    assert failures == [("fid50k", "Could not download http://h/i.pkl: no"),
                        ("kid50k", "ZeroDivisionError: division by zero")]
    assert all(m.calls == [(("snapshot.pkl",), dict(run_dir="/run", shared_fakes={}))] for m in group.metrics)
    # One dict for the whole group run, in which a metric leaves the fakes' features for the next ones.
    assert len(set(id(m.calls[0][1]["shared_fakes"]) for m in group.metrics)) == 1
    with pytest.raises(KeyboardInterrupt):  # Not a metric failure: the user stops the run.
        group.metrics = [_FakeMetric("fid50k", KeyboardInterrupt())]
        group.run_each("snapshot.pkl")


def test_failure_reason_is_one_short_line():
    assert metric_base.failure_reason(metric_base.MetricError("metric x: dataset  d\nyielded no images")) == \
        "metric x: dataset d yielded no images"
    long_reason = metric_base.failure_reason(ValueError("y" * 1000))
    assert len(long_reason) == 300 and long_reason.startswith("ValueError: yyy") and long_reason.endswith("...")


def test_progress_bar_on_the_console_from_the_first_minibatch_not_in_the_log(tmp_path, capsys):
    log_file = str(tmp_path / "log.txt")
    with dnnlib.util.Logger(log_file):
        print("before")
        bar = metric_base.progress_bar(100, "fid50k fakes")
        bar.update(8)
        shown = capsys.readouterr().err
        bar.update(8)
        bar.close()
    assert "fid50k fakes" in shown and "8/100" in shown  # Drawn at once, not only after mininterval.
    with open(log_file) as f:
        assert f.read() == "before\n"
