"""dnnlib.util: EasyDict, Logger, small helpers, name resolution, file copying and open_url.

The http tests talk only to a tiny server on 127.0.0.1 started inside the test; nothing leaves the machine.
"""

import copy
import ctypes
import hashlib
import http.server
import io
import os
import pathlib
import pickle
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from dnnlib import util

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------------------------
# EasyDict and small helpers


def test_easydict_attributes_pickle_and_copy():
    d = util.EasyDict(a=1)
    d.b = [2, 3]
    assert d["b"] == [2, 3] and d.a == 1
    del d.a
    assert "a" not in d
    with pytest.raises(AttributeError):
        _ = d.a
    restored = pickle.loads(pickle.dumps(d))
    assert type(restored) is util.EasyDict and restored == {"b": [2, 3]} and restored.b == [2, 3]
    deep = copy.deepcopy(d)
    deep.b.append(4)
    assert d.b == [2, 3]


@pytest.mark.parametrize("seconds, expected", [
    (0, "0s"),
    (59.4, "59s"),
    (60, "1m 00s"),
    (7 * 60 + 5, "7m 05s"),
    (3599, "59m 59s"),
    (3600, "1h 00m 00s"),
    (2 * 3600 + 5 * 60 + 9, "2h 05m 09s"),
    (86399, "23h 59m 59s"),
    (86400, "1d 00h 00m"),
    (3 * 86400 + 4 * 3600 + 10 * 60 + 7, "3d 04h 10m"),
])
def test_format_time(seconds, expected):
    assert util.format_time(seconds) == expected


def test_ask_yes_no_repeats_until_a_valid_answer(monkeypatch):
    answers = iter(["maybe", "", "YES"])
    prompts = []

    def fake_input(prompt):
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("builtins.input", fake_input)
    assert util.ask_yes_no("Overwrite?") is True
    assert prompts == ["Overwrite? [y/n] "] * 3
    for word in ["n", "No", "false", "off", "0"]:
        assert util.parse_yes_no(word) is False
    for word in ["y", "Yes", "TRUE", "on", "1"]:
        assert util.parse_yes_no(word) is True


def test_tuple_product_dtype_and_pickleable():
    assert util.tuple_product((2, 3, 4)) == 24
    assert util.tuple_product(()) == 1
    assert util.get_dtype_and_ctype("float32") == (np.dtype(np.float32), ctypes.c_float)
    assert util.get_dtype_and_ctype(np.uint8) == (np.dtype(np.uint8), ctypes.c_ubyte)
    assert util.get_dtype_and_ctype(np.dtype("int64")) == (np.dtype(np.int64), ctypes.c_int64)
    with pytest.raises(ValueError, match="complex64"):
        util.get_dtype_and_ctype("complex64")
    assert util.is_pickleable({"a": [1, 2]})
    assert not util.is_pickleable(lambda x: x)


def test_logger_tees_stdout_and_stderr(tmp_path, capsys):
    log_path = tmp_path / "log.txt"
    stdout_before, stderr_before = sys.stdout, sys.stderr
    with util.Logger(str(log_path)) as logger:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        logger.write("direct\n")
    assert sys.stdout is stdout_before and sys.stderr is stderr_before
    assert log_path.read_text() == "to stdout\nto stderr\ndirect\n"
    captured = capsys.readouterr()
    assert captured.out == "to stdout\ndirect\n"
    assert captured.err == "to stderr\n"
    logger.close()  # A second close is harmless.


def test_importing_dnnlib_does_not_import_tensorflow_or_requests():
    code = ("import sys, dnnlib, dnnlib.util; "
            "print('tensorflow' in sys.modules, 'requests' in sys.modules, dnnlib.submit_config)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_DIR, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "None"]


# ------------------------------------------------------------------------------------------------
# Name resolution


def top_level_function(x):
    return x + 1


def test_name_resolution_numpy_and_tf_compat_v1():
    import tensorflow.compat.v1 as tf

    assert util.get_obj_by_name("np.float32") is np.float32
    assert util.get_obj_by_name("numpy.linalg.norm") is np.linalg.norm
    # "tf." is the TF1 API: on TF 2.x tensorflow.train has no AdamOptimizer, compat.v1 has.
    assert util.get_obj_by_name("tf.train.AdamOptimizer") is tf.train.AdamOptimizer
    module, local_name = util.get_module_from_obj_name("tf.train.AdamOptimizer")
    # TF 1.15's lazy API modules may import as a second module object of the same file: compare the files.
    assert module.__file__ == tf.train.__file__ and local_name == "AdamOptimizer"


def test_name_resolution_nested_objects_and_calls():
    module, local_name = util.get_module_from_obj_name("dnnlib.util.EasyDict.__getattr__")
    assert module is util and local_name == "EasyDict.__getattr__"
    assert util.get_obj_by_name("dnnlib.util.EasyDict.__getattr__") is util.EasyDict.__getattr__
    assert util.get_obj_from_module(util, "") is util
    assert util.call_func_by_name("a", "b", func_name="os.path.join") == os.path.join("a", "b")
    assert util.call_func_by_name(func_name="dnnlib.util.tuple_product", t=(5, 7)) == 35
    with pytest.raises(ValueError, match="func_name"):
        util.call_func_by_name(1)
    assert util.get_module_dir_by_obj_name("dnnlib.util.EasyDict") == os.path.join(REPO_DIR, "dnnlib")


def test_name_resolution_errors():
    with pytest.raises(ImportError, match="no_such_function_xyz"):
        util.get_obj_by_name("dnnlib.util.no_such_function_xyz")
    with pytest.raises(ImportError, match="no_such_module_xyz"):
        util.get_obj_by_name("no_such_module_xyz.f")


def test_name_resolution_reports_broken_imports_inside_a_module(tmp_path, monkeypatch):
    (tmp_path / "broken_module_for_util_test.py").write_text("import missing_dependency_for_util_test\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError, match="missing_dependency_for_util_test"):
            util.get_obj_by_name("broken_module_for_util_test.some_function")
    finally:
        sys.modules.pop("broken_module_for_util_test", None)


def test_top_level_function_names():
    def nested(x):
        return x

    assert util.is_top_level_function(top_level_function)
    assert not util.is_top_level_function(nested)
    assert not util.is_top_level_function(42)
    name = util.get_top_level_function_name(top_level_function)
    assert name == __name__ + ".top_level_function"
    assert util.get_obj_by_name(name)(1) == 2
    with pytest.raises(ValueError):
        util.get_top_level_function_name(nested)


# ------------------------------------------------------------------------------------------------
# Files


def test_list_dir_recursively_with_ignore_and_copy(tmp_path):
    src = tmp_path / "proj"
    (src / "sub").mkdir(parents=True)
    (src / "__pycache__").mkdir()
    (src / "x.py").write_text("x")
    (src / "skip.pyc").write_text("compiled")
    (src / "__pycache__" / "y.txt").write_text("cached")
    (src / "sub" / "z.txt").write_text("zz")

    files = util.list_dir_recursively_with_ignore(str(src), ignores=["__pycache__", "*.pyc"])
    assert [rel for _, rel in files] == [os.path.join("sub", "z.txt"), "x.py"]
    assert [abs_path for abs_path, _ in files] == [str(src / "sub" / "z.txt"), str(src / "x.py")]
    with_base = util.list_dir_recursively_with_ignore(str(src), ignores=["__pycache__", "*.pyc"],
                                                      add_base_to_relative=True)
    assert [rel for _, rel in with_base] == [os.path.join("proj", "sub", "z.txt"), os.path.join("proj", "x.py")]
    assert len(util.list_dir_recursively_with_ignore(str(src))) == 4

    dst = tmp_path / "copy"
    util.copy_files_and_create_dirs([(abs_path, str(dst / "deep" / rel)) for abs_path, rel in files])
    assert (dst / "deep" / "sub" / "z.txt").read_text() == "zz"
    assert (dst / "deep" / "x.py").read_text() == "x"

    with pytest.raises(NotADirectoryError, match="no_such_dir"):
        util.list_dir_recursively_with_ignore(str(tmp_path / "no_such_dir"))


# ------------------------------------------------------------------------------------------------
# open_url on local files


def test_is_url():
    assert util.is_url("http://127.0.0.1:8000/x.pkl")
    assert util.is_url("https://example.com/a/b.pkl")
    assert not util.is_url("file:///tmp/x.pkl")
    assert util.is_url("file:///tmp/x.pkl", allow_file_urls=True)
    assert not util.is_url("/tmp/x.pkl")
    assert not util.is_url("results/00000-x/network.pkl")
    assert not util.is_url(123)
    assert not util.is_url("http://")


def test_open_url_local_paths_and_file_urls(tmp_path):
    data = bytes(range(256)) * 10
    path = tmp_path / "my file.bin"  # The space becomes %20 in the file URL.
    path.write_bytes(data)
    file_url = path.as_uri()
    assert "%20" in file_url
    cache_dir = tmp_path / "cache"

    for url in [str(path), file_url]:
        for use_cache in [True, False]:
            with util.open_url(url, cache_dir=str(cache_dir), cache=use_cache, verbose=False) as f:
                assert f.read() == data
        assert util.open_url(url, return_filename=True) == str(path)
    assert not cache_dir.exists()  # Local files are read in place, never copied into the cache.

    good_md5 = hashlib.md5(data).hexdigest()
    with util.open_url(file_url, md5=good_md5) as f:
        assert f.read() == data
    with pytest.raises(util.DownloadError, match="MD5 mismatch"):
        util.open_url(file_url, md5="0" * 32)
    with pytest.raises(FileNotFoundError):
        util.open_url(str(tmp_path / "missing.bin"))
    with pytest.raises(ValueError, match="ftp"):
        util.open_url("ftp://127.0.0.1/x.bin")


# ------------------------------------------------------------------------------------------------
# open_url over http, against a server on 127.0.0.1


class _Route(object):
    def __init__(self, body, status=200, headers=None, failures=0):
        self.body = body
        self.status = status
        self.headers = headers or {}
        self.failures = failures  # Answer 503 this many times first.


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        route = server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route.failures > 0:
            route.failures -= 1
            self.send_error(503)
            return
        self.send_response(route.status)
        self.send_header("Content-Length", str(len(route.body)))
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(route.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """A local http server: set `server.routes[path] = _Route(...)`; `server.requests` lists paths asked."""
    for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes = {}
    httpd.requests = []
    httpd.base_url = "http://127.0.0.1:%d" % httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def test_open_url_http_download_and_cache(server, tmp_path):
    data = os.urandom(5000)
    server.routes["/nets/model.pkl"] = _Route(data)
    url = server.base_url + "/nets/model.pkl"
    cache_dir = tmp_path / "cache"

    with util.open_url(url, cache_dir=str(cache_dir), verbose=False) as f:
        assert f.read() == data
    expected_name = _md5(url) + "_model.pkl"
    assert os.listdir(cache_dir) == [expected_name]  # Nothing else: no temporary files left.
    assert (cache_dir / expected_name).read_bytes() == data
    assert server.requests == ["/nets/model.pkl"]

    # Served from the cache: no new request.
    with util.open_url(url, cache_dir=str(cache_dir), verbose=False) as f:
        assert f.read() == data
    assert util.open_url(url, cache_dir=str(cache_dir), return_filename=True) == str(cache_dir / expected_name)
    assert server.requests == ["/nets/model.pkl"]

    # cache=False downloads again and writes nothing.
    other_cache = tmp_path / "other"
    f = util.open_url(url, cache_dir=str(other_cache), cache=False, verbose=False)
    assert isinstance(f, io.BytesIO) and f.read() == data
    assert not other_cache.exists()
    assert len(server.requests) == 2


def test_open_url_default_cache_dir_from_environment(server, tmp_path, monkeypatch):
    server.routes["/a.bin"] = _Route(b"abc")
    monkeypatch.setenv("STYLEGAN2_CACHE_DIR", str(tmp_path / "env-cache"))
    assert util.open_url(server.base_url + "/a.bin", verbose=False).read() == b"abc"
    assert os.listdir(tmp_path / "env-cache") == [_md5(server.base_url + "/a.bin") + "_a.bin"]


def test_open_url_file_name_from_content_disposition(server, tmp_path):
    server.routes["/download?id=7"] = _Route(b"payload", headers={
        "Content-Disposition": 'attachment; filename="weird name?.pkl"'})
    url = server.base_url + "/download?id=7"
    path = util.open_url(url, cache_dir=str(tmp_path), return_filename=True, verbose=False)
    assert os.path.basename(path) == _md5(url) + "_weird_name_.pkl"
    assert pathlib.Path(path).read_bytes() == b"payload"


def test_open_url_retries_after_server_errors(server, tmp_path):
    server.routes["/flaky.bin"] = _Route(b"finally", failures=2)
    url = server.base_url + "/flaky.bin"
    with util.open_url(url, cache_dir=str(tmp_path), num_attempts=3, verbose=False) as f:
        assert f.read() == b"finally"
    assert server.requests == ["/flaky.bin"] * 3

    server.routes["/flaky2.bin"] = _Route(b"never", failures=5)
    url2 = server.base_url + "/flaky2.bin"
    with pytest.raises(util.DownloadError) as error:
        util.open_url(url2, cache_dir=str(tmp_path), num_attempts=2, verbose=False)
    message = str(error.value)
    assert url2 in message and "503" in message and "2 attempt" in message and "\n" not in message
    assert server.requests.count("/flaky2.bin") == 2


def test_open_url_does_not_retry_not_found(server, tmp_path):
    url = server.base_url + "/missing.pkl"
    with pytest.raises(util.DownloadError, match="404") as error:
        util.open_url(url, cache_dir=str(tmp_path), num_attempts=5, verbose=False)
    assert url in str(error.value) and str(error.value).endswith("not retried: the server does not have the file")
    assert server.requests == ["/missing.pkl"]
    assert os.listdir(tmp_path) == []


def _no_proxies(monkeypatch):
    for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _free_port():
    with socket.socket() as sock:  # Find a free port, then close it: nothing listens there.
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_open_url_refused_connection_fails_at_once_in_one_line(tmp_path, monkeypatch):
    _no_proxies(monkeypatch)
    url = "http://127.0.0.1:%d/net.pkl" % _free_port()
    start = time.time()
    with pytest.raises(util.DownloadError) as error:
        util.open_url(url, cache_dir=str(tmp_path), num_attempts=10, verbose=False)
    assert time.time() - start < 2  # No back-off pauses: 10 attempts would take 40 s.
    message = str(error.value)
    assert isinstance(error.value, IOError)
    assert url in message and "\n" not in message and "Connection refused" in message
    assert message.endswith("not retried: the connection was refused (nothing listens at that address)")
    assert os.listdir(tmp_path) == []


def test_open_url_unresolvable_host_fails_at_once(tmp_path, monkeypatch):
    """.invalid never resolves (RFC 6761); offline every name fails like this."""
    _no_proxies(monkeypatch)
    url = "http://stylegan2-test.invalid/metrics/inception_v3_features.pkl"
    start = time.time()
    with pytest.raises(util.DownloadError) as error:
        util.open_url(url, cache_dir=str(tmp_path), num_attempts=10)
    assert time.time() - start < 2
    message = str(error.value)
    assert message.startswith("Could not download %s: " % url) and "\n" not in message
    assert message.endswith("; not retried: the host name does not resolve")
    assert util.probe_url(url).startswith("the host name does not resolve: ConnectionError")


def test_open_url_invalid_url_is_not_retried(tmp_path):
    with pytest.raises(util.DownloadError, match="not retried: the URL is not valid"):
        util.open_url("http://host:notaport/x.pkl", cache_dir=str(tmp_path), num_attempts=10, verbose=False)


@pytest.mark.parametrize("status, why", [(403, "the server denies access"), (410, "the server no longer has the file"),
                                         (400, "the server rejects the request")])
def test_open_url_client_errors_are_not_retried(server, tmp_path, status, why):
    server.routes["/x.pkl"] = _Route(b"", status=status)
    with pytest.raises(util.DownloadError) as error:
        util.open_url(server.base_url + "/x.pkl", cache_dir=str(tmp_path), num_attempts=5, verbose=False)
    assert ("HTTP %d" % status) in str(error.value) and str(error.value).endswith("not retried: " + why)
    assert server.requests == ["/x.pkl"]


def test_open_url_retries_too_many_requests(server, tmp_path, monkeypatch):
    monkeypatch.setattr(util, "_RETRY_FIRST_DELAY_S", 0.0)
    server.routes["/busy.pkl"] = _Route(b"", status=429)
    with pytest.raises(util.DownloadError, match=r"after 3 attempt\(s\): HTTP 429"):
        util.open_url(server.base_url + "/busy.pkl", cache_dir=str(tmp_path), num_attempts=3, verbose=False)
    assert server.requests == ["/busy.pkl"] * 3


def _silent_server():
    """A socket that accepts connections (the kernel does, from the backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def test_open_url_retries_timeouts(tmp_path, monkeypatch):
    _no_proxies(monkeypatch)
    monkeypatch.setattr(util, "_RETRY_FIRST_DELAY_S", 0.0)
    monkeypatch.setattr(util, "_REQUEST_TIMEOUT_S", 0.2)
    monkeypatch.setattr(util, "_PROBE_TIMEOUT_S", 0.2)
    with _silent_server() as sock:
        url = "http://127.0.0.1:%d/slow.pkl" % sock.getsockname()[1]
        with pytest.raises(util.DownloadError) as error:
            util.open_url(url, cache_dir=str(tmp_path), num_attempts=2, verbose=False)
        message = str(error.value)
        assert "after 2 attempt(s)" in message and "timed out" in message and "not retried" not in message
        assert util.probe_url(url).endswith("after 2 attempt(s)")


def test_probe_url_reads_only_the_answer(server, tmp_path, monkeypatch):
    monkeypatch.setattr(util, "_RETRY_FIRST_DELAY_S", 0.0)
    server.routes["/net.pkl"] = _Route(b"x" * 100000)
    assert util.probe_url(server.base_url + "/net.pkl") is None
    assert util.probe_url(server.base_url + "/gone.pkl") == "the server does not have the file: HTTP 404 Not Found"
    server.routes["/flaky.pkl"] = _Route(b"ok", failures=1)
    assert util.probe_url(server.base_url + "/flaky.pkl") is None
    assert server.requests == ["/net.pkl", "/gone.pkl", "/flaky.pkl", "/flaky.pkl"]
    assert os.listdir(tmp_path) == []  # A probe stores nothing.


def test_find_in_cache_takes_any_file_with_the_url_prefix(tmp_path):
    url = "https://example.com/nets/inception.pkl"
    assert util.find_in_cache(url, str(tmp_path)) is None
    copy_path = tmp_path / (util.cache_file_prefix(url) + "my-copy.pkl")
    copy_path.write_bytes(b"net")
    assert util.find_in_cache(url, str(tmp_path)) == str(copy_path)
    assert util.find_in_cache(url, str(tmp_path), md5=hashlib.md5(b"other").hexdigest()) is None
    with util.open_url(url, cache_dir=str(tmp_path)) as f:  # No download: the copy is used.
        assert f.read() == b"net"


def test_open_url_md5_mismatch_writes_nothing(server, tmp_path):
    data = b"some network"
    server.routes["/n.pkl"] = _Route(data)
    url = server.base_url + "/n.pkl"
    with pytest.raises(util.DownloadError, match="MD5 mismatch") as error:
        util.open_url(url, cache_dir=str(tmp_path / "c"), md5="f" * 32, verbose=False)
    assert url in str(error.value)
    assert not (tmp_path / "c").exists() or os.listdir(tmp_path / "c") == []
    with util.open_url(url, cache_dir=str(tmp_path / "c"), md5=hashlib.md5(data).hexdigest(), verbose=False) as f:
        assert f.read() == data


def test_open_url_failed_cache_write_leaves_no_temp_file(server, tmp_path, monkeypatch):
    server.routes["/n.pkl"] = _Route(b"abc")

    def failing_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(util.os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        util.open_url(server.base_url + "/n.pkl", cache_dir=str(tmp_path), verbose=False)
    assert os.listdir(tmp_path) == []


def test_open_url_google_drive_confirmation_and_quota(server, tmp_path):
    page = (b'<html><body>Google Drive can\'t scan this file for viruses. '
            b'<a href="/uc?export=download&amp;confirm=t0k&amp;id=42">Download anyway</a></body></html>')
    server.routes["/uc?id=42"] = _Route(page, headers={
        "Content-Type": "text/html; charset=utf-8", "Set-Cookie": "download_warning_42=t0k; Path=/"})
    server.routes["/uc?export=download&confirm=t0k&id=42"] = _Route(b"the real file")
    url = server.base_url + "/uc?id=42"
    with util.open_url(url, cache_dir=str(tmp_path), verbose=False) as f:
        assert f.read() == b"the real file"
    assert server.requests == ["/uc?id=42", "/uc?export=download&confirm=t0k&id=42"]
    assert len(os.listdir(tmp_path)) == 1 and os.listdir(tmp_path)[0].startswith(_md5(url) + "_")

    server.routes["/quota"] = _Route(b"<html><title>Google Drive - Quota exceeded</title></html>",
                                     headers={"Content-Type": "text/html"})
    with pytest.raises(util.DownloadError, match="quota") as error:
        util.open_url(server.base_url + "/quota", cache_dir=str(tmp_path), num_attempts=5, verbose=False)
    assert server.base_url + "/quota" in str(error.value)
    assert server.requests.count("/quota") == 1
