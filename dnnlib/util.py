"""Small helpers used everywhere: EasyDict, logging, name resolution, file copying and URL downloads.

This module must stay importable without TensorFlow (and without `requests`, which is imported only
when something is actually downloaded).
"""

import ctypes
import errno
import fnmatch
import functools
import glob
import hashlib
import html
import importlib
import inspect
import io
import os
import pickle
import re
import shutil
import socket
import ssl
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from typing import Any, List, Optional, Tuple

import numpy as np


# ------------------------------------------------------------------------------------------------
# EasyDict


class EasyDict(dict):
    """dict whose items can also be read and written as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        del self[name]


# ------------------------------------------------------------------------------------------------
# Logging to the console and a file at the same time


class _TeeStream(object):
    """Stands in for sys.stdout or sys.stderr: writes to the original stream and to the logger's file."""

    def __init__(self, logger, stream):
        self.logger = logger
        self.stream = stream

    def write(self, text):
        if len(text) == 0:
            return
        self.logger.write_to_file(text)
        self.stream.write(text)
        if self.logger.should_flush:
            self.flush()

    def flush(self):
        self.logger.flush_file()
        self.stream.flush()

    def __getattr__(self, name):
        # encoding, isatty(), fileno(), ... come from the stream we replaced.
        if name in ("logger", "stream"):  # Not set yet (e.g. during copying): avoid endless recursion.
            raise AttributeError(name)
        return getattr(self.stream, name)


def console_stream(stream):
    """The stream behind a Logger's tee (`stream` itself when it is none): for output that belongs on the
    console but not in log.txt, such as progress bars."""
    while isinstance(stream, _TeeStream):
        stream = stream.stream
    return stream


class Logger(object):
    """Copies everything written to sys.stdout and sys.stderr into a file until `close()`.

    Usable as a context manager. With `file_name=None` nothing is written to disk, the console output
    is unchanged.
    """

    def __init__(self, file_name: str = None, file_mode: str = "w", should_flush: bool = True):
        self.should_flush = should_flush
        self.file = None if file_name is None else open(file_name, file_mode, encoding="utf-8",
                                                        errors="backslashreplace")
        # Remember the streams we replace; close() puts them back.
        self.stdout, self.stderr = sys.stdout, sys.stderr
        self._stdout_tee, self._stderr_tee = _TeeStream(self, sys.stdout), _TeeStream(self, sys.stderr)
        sys.stdout, sys.stderr = self._stdout_tee, self._stderr_tee

    def __enter__(self) -> "Logger":
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback) -> None:
        self.close()

    def write(self, text: str) -> None:
        """Write to the file and to the original stdout."""
        self._stdout_tee.write(text)

    def write_to_file(self, text: str) -> None:
        """Write to the file only (no-op once closed or without a file)."""
        if self.file is not None:
            self.file.write(text)

    def flush_file(self) -> None:
        if self.file is not None:
            self.file.flush()

    def flush(self) -> None:
        self.flush_file()
        self.stdout.flush()
        self.stderr.flush()

    def close(self) -> None:
        """Flush, give sys.stdout / sys.stderr back and close the file. Safe to call twice."""
        self.flush()
        # Only undo our own replacement: someone may have replaced the streams again since.
        if sys.stdout is self._stdout_tee:
            sys.stdout = self.stdout
        if sys.stderr is self._stderr_tee:
            sys.stderr = self.stderr
        file, self.file = self.file, None
        if file is not None:
            file.close()


# ------------------------------------------------------------------------------------------------
# Small utilities


def format_time(seconds) -> str:
    """Human-readable duration: "5s", "3m 07s", "2h 05m 09s", "3d 04h 10m"."""
    s = int(np.rint(seconds))
    if s < 60:
        return "%ds" % s
    if s < 60 * 60:
        return "%dm %02ds" % (s // 60, s % 60)
    if s < 24 * 60 * 60:
        return "%dh %02dm %02ds" % (s // (60 * 60), (s // 60) % 60, s % 60)
    return "%dd %02dh %02dm" % (s // (24 * 60 * 60), (s // (60 * 60)) % 24, (s // 60) % 60)


_YES_WORDS = ("y", "yes", "t", "true", "on", "1")
_NO_WORDS = ("n", "no", "f", "false", "off", "0")


def parse_yes_no(answer: str) -> bool:
    """"yes"/"y"/"true"/"on"/"1" -> True, "no"/"n"/"false"/"off"/"0" -> False (any case), else ValueError."""
    word = answer.strip().lower()
    if word in _YES_WORDS:
        return True
    if word in _NO_WORDS:
        return False
    raise ValueError("not a yes/no answer: %r" % answer)


def ask_yes_no(question: str) -> bool:
    """Ask on the console until the answer is a yes or a no."""
    while True:
        try:
            return parse_yes_no(input("{0} [y/n] ".format(question)))
        except ValueError:
            pass


def tuple_product(t: Tuple) -> Any:
    """Product of the elements of a tuple (1 for an empty one)."""
    result = 1
    for v in t:
        result *= v
    return result


def _ctypes_by_dtype_name() -> dict:
    """numpy dtype name -> ctypes type of the same size, for the integer and float types."""
    table = {"uint8": ctypes.c_ubyte, "int8": ctypes.c_byte, "float32": ctypes.c_float, "float64": ctypes.c_double}
    for bits in (16, 32, 64):
        table["int%d" % bits] = getattr(ctypes, "c_int%d" % bits)
        table["uint%d" % bits] = getattr(ctypes, "c_uint%d" % bits)
    return table


_DTYPE_NAME_TO_CTYPE = _ctypes_by_dtype_name()


def get_dtype_and_ctype(type_obj: Any) -> Tuple[np.dtype, Any]:
    """(numpy dtype, ctypes type) for a type name ("float32"), a numpy type or a numpy dtype."""
    if isinstance(type_obj, str):
        type_name = type_obj
    elif isinstance(type_obj, np.dtype):
        type_name = type_obj.name
    elif hasattr(type_obj, "__name__"):
        type_name = type_obj.__name__
    elif hasattr(type_obj, "name"):
        type_name = type_obj.name
    else:
        raise TypeError("get_dtype_and_ctype: cannot tell the type name of %r" % (type_obj,))
    if type_name not in _DTYPE_NAME_TO_CTYPE:
        raise ValueError("get_dtype_and_ctype: unsupported type %r (supported: %s)"
                         % (type_name, ", ".join(sorted(_DTYPE_NAME_TO_CTYPE))))
    dtype = np.dtype(type_name)
    ctype = _DTYPE_NAME_TO_CTYPE[type_name]
    assert dtype.itemsize == ctypes.sizeof(ctype)
    return dtype, ctype


def is_pickleable(obj: Any) -> bool:
    """Can `obj` be pickled?"""
    try:
        pickle.dumps(obj)
    except Exception:  # pickle raises all sorts of errors (TypeError, AttributeError, PicklingError).
        return False
    return True


# ------------------------------------------------------------------------------------------------
# Finding modules and objects by their dotted names ("training.loss.G_logistic_ns")


def _expand_obj_name(obj_name: str) -> str:
    """Leading "np." means numpy; leading "tf." means the TF1 API, tensorflow.compat.v1 (also on TF 2.x)."""
    if obj_name.startswith("np."):
        return "numpy." + obj_name[len("np."):]
    if obj_name.startswith("tf."):
        return "tensorflow.compat.v1." + obj_name[len("tf."):]
    return obj_name


def get_module_from_obj_name(obj_name: str) -> Tuple[Any, str]:
    """Split a dotted name into (the longest importable module, the object's name inside it).

    "tf.train.AdamOptimizer" -> (tensorflow.compat.v1.train, "AdamOptimizer").
    """
    full_name = _expand_obj_name(obj_name)
    parts = full_name.split(".")
    reason = None
    for split in range(len(parts), 0, -1):  # Longest module name first.
        module_name = ".".join(parts[:split])
        local_name = ".".join(parts[split:])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            missing = e.name or ""
            if missing == module_name or module_name.startswith(missing + "."):
                continue  # This candidate is not a module; try a shorter one.
            raise  # The module exists but one of its own imports failed: that is the real error.
        try:
            get_obj_from_module(module, local_name)
            return module, local_name
        except AttributeError as e:
            if reason is None:  # Report the failure of the longest module, the most specific one.
                reason = "%s (looking for %r in module %r)" % (e, local_name, module_name)
    shown_name = obj_name if full_name == obj_name else "%s (%s)" % (obj_name, full_name)
    raise ImportError("Cannot find %s: %s" % (shown_name, reason or "no module of that name"))


def get_obj_from_module(module: Any, obj_name: str) -> Any:
    """Walk a dotted name ("Class.method") inside a module; "" gives the module itself."""
    parts = obj_name.split(".") if obj_name else []
    return functools.reduce(getattr, parts, module)


def get_obj_by_name(name: str) -> Any:
    """The object named by a fully qualified dotted name, e.g. "np.float32" or "training.loss.D_logistic"."""
    return get_obj_from_module(*get_module_from_obj_name(name))


def call_func_by_name(*args, func_name: str = None, **kwargs) -> Any:
    """Call the function named by `func_name` (a dotted name) with the given arguments."""
    if func_name is None:
        raise ValueError("call_func_by_name: func_name is required")
    func_obj = get_obj_by_name(func_name)
    if not callable(func_obj):
        raise TypeError("call_func_by_name: %r is not callable" % func_name)
    return func_obj(*args, **kwargs)


def get_module_dir_by_obj_name(obj_name: str) -> str:
    """Directory of the module that defines the named object."""
    module = get_module_from_obj_name(obj_name)[0]
    return os.path.dirname(inspect.getfile(module))


def is_top_level_function(obj: Any) -> bool:
    """Is `obj` a callable that its module defines at the top level (so it can be found by name)?"""
    if not callable(obj) or not hasattr(obj, "__name__") or not hasattr(obj, "__module__"):
        return False
    module = sys.modules.get(obj.__module__)
    return module is not None and module.__dict__.get(obj.__name__) is obj


def get_top_level_function_name(obj: Any) -> str:
    """Fully qualified name ("module.function") of a top-level function; `__main__` becomes the script name."""
    if not is_top_level_function(obj):
        raise ValueError("get_top_level_function_name: %r is not a top-level function" % (obj,))
    module_name = obj.__module__
    if module_name == "__main__":
        module_name = os.path.splitext(os.path.basename(sys.modules[module_name].__file__))[0]
    return module_name + "." + obj.__name__


# ------------------------------------------------------------------------------------------------
# Copying files


def list_dir_recursively_with_ignore(dir_path: str, ignores: List[str] = None,
                                     add_base_to_relative: bool = False) -> List[Tuple[str, str]]:
    """All files under `dir_path` as (absolute path, path relative to dir_path), sorted by the latter.

    Files and directories whose name matches one of the fnmatch patterns in `ignores` are skipped.
    With `add_base_to_relative`, relative paths start with the name of `dir_path` itself.
    """
    if not os.path.isdir(dir_path):
        raise NotADirectoryError("list_dir_recursively_with_ignore: not a directory: %s" % dir_path)
    ignores = ignores or []
    dir_path = os.path.abspath(dir_path)
    base_name = os.path.basename(dir_path)

    def is_ignored(name):
        return any(fnmatch.fnmatch(name, pattern) for pattern in ignores)

    result = []
    for root, dirs, files in os.walk(dir_path, topdown=True):
        dirs[:] = sorted(d for d in dirs if not is_ignored(d))  # Pruning here stops os.walk descending.
        for file_name in sorted(files):
            if is_ignored(file_name):
                continue
            abs_path = os.path.join(root, file_name)
            rel_path = os.path.relpath(abs_path, dir_path)
            if add_base_to_relative:
                rel_path = os.path.join(base_name, rel_path)
            result.append((abs_path, rel_path))
    return sorted(result, key=lambda pair: pair[1])


def copy_files_and_create_dirs(files: List[Tuple[str, str]]) -> None:
    """Copy each (source, destination) pair, creating destination directories as needed."""
    for src, dst in files:
        dst_dir = os.path.dirname(dst)
        if dst_dir:
            os.makedirs(dst_dir, exist_ok=True)
        shutil.copyfile(src, dst)


# ------------------------------------------------------------------------------------------------
# URLs and downloads


class DownloadError(IOError):
    """A URL could not be downloaded, or its data did not match the expected md5."""


_RETRY_FIRST_DELAY_S = 0.25    # Back-off between attempts: 0.25 s, 0.5 s, 1 s, ... at most _RETRY_MAX_DELAY_S.
_RETRY_MAX_DELAY_S = 8.0
_CONNECT_TIMEOUT_S = 20.0      # Timeout of one attempt's connection ...
_REQUEST_TIMEOUT_S = 60.0      # ... and of the wait for each block of data after that.
_PROBE_TIMEOUT_S = 10.0        # `probe_url`: connection and answer.
_PROGRESS_MIN_BYTES = 1 << 20  # Show a progress bar for downloads at least this large.
_GDRIVE_PAGE_MAX_BYTES = 1 << 16  # Google Drive's confirmation / quota pages are small HTML pages.


class _FatalDownloadError(Exception):
    """An error that another attempt would not fix (HTTP 404, Google Drive quota, ...); `why` says so in words."""

    def __init__(self, message, why):
        super().__init__(message)
        self.why = why


class _FollowUrl(Exception):
    """Google Drive asked for a confirmation: the next attempt should fetch `url` instead."""

    def __init__(self, url):
        super().__init__("Google Drive virus-scan confirmation page")
        self.url = url


def default_cache_dir() -> str:
    """$STYLEGAN2_CACHE_DIR if set, else ".stylegan2-cache" in the current directory."""
    return os.environ.get("STYLEGAN2_CACHE_DIR") or ".stylegan2-cache"


def is_url(obj: Any, allow_file_urls: bool = False) -> bool:
    """Is `obj` a string of the form "scheme://host/..." ("file://..." only with allow_file_urls)?"""
    if not isinstance(obj, str) or "://" not in obj:
        return False
    if obj.startswith("file://"):
        return allow_file_urls
    try:
        parts = urllib.parse.urlparse(obj)
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.netloc)


def _local_path_of(url: str) -> str:
    """The local file named by a plain path or a file:// URL; None for other URLs."""
    if "://" not in url:
        return url
    if not url.startswith("file://"):
        return None
    parts = urllib.parse.urlparse(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError("open_url: file URL with a host name is not supported: %s" % url)
    return urllib.request.url2pathname(parts.path)  # Also turns "/C:/x" into "C:\x" on Windows.


def file_md5(path: str) -> str:
    """Hex MD5 digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def error_line(error: BaseException) -> str:
    """The reason of an exception as one short line, for messages users read.

    For example "OSError: HTTP 503 Service Unavailable" or "ConnectionError ([Errno 111] Connection refused)".
    """
    text = " ".join(str(error).split())
    # requests wraps socket errors in long "HTTPConnectionPool(...): Max retries exceeded ..." texts.
    os_error = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if os_error:
        return "%s (%s)" % (type(error).__name__, os_error.group().strip())
    return "%s: %s" % (type(error).__name__, text) if text else type(error).__name__


def _file_name_of_response(response, url: str) -> str:
    """The name the server gives the file (Content-Disposition), else the last part of the URL path."""
    disposition = response.headers.get("Content-Disposition", "")
    match = re.search(r'filename="([^"]*)"', disposition) or re.search(r"filename=([^;\s]+)", disposition)
    if match:
        name = match.group(1)
    else:
        name = os.path.basename(urllib.parse.urlparse(url).path)
    name = re.sub(r"[^0-9a-zA-Z\-._]", "_", name)[:128]
    return name if name.strip("._") else "download"


def _google_drive_check(response, data: bytes, url: str) -> None:
    """Raise if `data` is one of Google Drive's pages instead of the file."""
    if len(data) > _GDRIVE_PAGE_MAX_BYTES or "text/html" not in response.headers.get("Content-Type", ""):
        return
    text = data.decode("utf-8", errors="replace")
    if "Quota exceeded" in text:
        raise _FatalDownloadError("Google Drive download quota exceeded for this file",
                                  "the quota lasts for hours; try again later or download it by hand")
    # Older page: a cookie plus a link carrying a confirm token.
    if "download_warning" in response.headers.get("Set-Cookie", ""):
        links = re.findall(r'href="(/uc\?export=download[^"]*)"', text)
        if links:
            raise _FollowUrl(urllib.parse.urljoin(url, html.unescape(links[0])))
        raise IOError("Google Drive virus-scan page without a download link")
    # Newer page: a form whose hidden fields are the query of the real download.
    form = re.search(r'<form[^>]*id="download-form"[^>]*action="([^"]+)"', text)
    if form:
        fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text)
        query = urllib.parse.urlencode([(name, html.unescape(value)) for name, value in fields])
        raise _FollowUrl(html.unescape(form.group(1)) + ("?" + query if query else ""))


# HTTP errors worth another attempt: the server is busy or failing for a while (408 timeout, 429 too many
# requests, 5xx). Other 4xx answers stay the same however often they are asked.
_HTTP_WHY_NOT_RETRIED = {401: "the server wants a login", 403: "the server denies access",
                         404: "the server does not have the file", 410: "the server no longer has the file"}


def _check_http_status(response) -> None:
    """Raise IOError (worth another attempt) or _FatalDownloadError for an HTTP error status."""
    status = response.status_code
    if status < 400:
        return
    reason = ("HTTP %d %s" % (status, response.reason or "")).strip()
    if status in (408, 429) or status >= 500:
        raise IOError(reason)
    raise _FatalDownloadError(reason, _HTTP_WHY_NOT_RETRIED.get(status, "the server rejects the request"))


def _causes(error: BaseException) -> List[BaseException]:
    """`error` and the exceptions behind it: requests wraps urllib3's errors, which wrap the socket's."""
    found, todo = [], [error]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is f for f in found):
            continue
        found.append(e)
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        todo.extend(arg for arg in e.args if isinstance(arg, BaseException))
    return found


# Exception class names (requests / urllib3) of URLs that cannot be fetched as written.
_BAD_URL_ERRORS = ("InvalidURL", "MissingSchema", "InvalidSchema", "LocationParseError", "URLSchemeUnknown")


def why_not_retried(error: BaseException) -> Optional[str]:
    """Why another attempt at a download would fail the same way ("the host name does not resolve", ...),
    or None when it might succeed (timeouts, dropped connections, HTTP 5xx, ...)."""
    for e in _causes(error):
        if isinstance(e, _FatalDownloadError):
            return e.why
        if isinstance(e, socket.gaierror):
            return "the host name does not resolve"  # Also offline, where DNS gives "temporary failure".
        if isinstance(e, ConnectionRefusedError):
            return "the connection was refused (nothing listens at that address)"
        if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "there is no route to the host (offline?)"
        if isinstance(e, ssl.SSLCertVerificationError):
            return "the server's certificate is not trusted"
        if type(e).__name__ in _BAD_URL_ERRORS:
            return "the URL is not valid"
    return None


def _download_once(session, url: str, verbose: bool, display_name: str) -> Tuple[bytes, Any]:
    """One attempt: (data, response). Raises _FatalDownloadError, or IOError / requests errors."""
    with session.get(url, stream=True, timeout=(_CONNECT_TIMEOUT_S, _REQUEST_TIMEOUT_S)) as response:
        _check_http_status(response)
        total_bytes = int(response.headers.get("Content-Length", 0) or 0)
        progress = None
        if verbose and total_bytes >= _PROGRESS_MIN_BYTES:
            try:
                from tqdm import tqdm
                progress = tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024,
                                desc=display_name, leave=False, file=console_stream(sys.stderr))
            except ImportError:
                progress = None
        chunks = []
        try:
            for chunk in response.iter_content(chunk_size=1 << 20):
                chunks.append(chunk)
                if progress is not None:
                    progress.update(len(chunk))
        finally:
            if progress is not None:
                progress.close()
    data = b"".join(chunks)
    if len(data) == 0:
        raise IOError("no data received")
    _google_drive_check(response, data, url)
    return data, response


def _download_with_retries(url: str, num_attempts: int, verbose: bool) -> Tuple[bytes, str]:
    """(data, file name) of `url`, trying up to `num_attempts` times with a growing pause in between.

    Errors that another attempt would not fix (`why_not_retried`) end the download at once.
    """
    import requests  # Imported here: most users of dnnlib never download anything.

    display_name = os.path.basename(urllib.parse.urlparse(url).path) or url
    current_url = url
    last_error = None
    with requests.Session() as session:
        for attempt in range(num_attempts):
            if attempt > 0 and not isinstance(last_error, _FollowUrl):
                time.sleep(min(_RETRY_FIRST_DELAY_S * 2 ** (attempt - 1), _RETRY_MAX_DELAY_S))
            try:
                data, response = _download_once(session, current_url, verbose, display_name)
                return data, _file_name_of_response(response, url)
            except _FollowUrl as e:
                current_url = e.url
                last_error = e
            except (_FatalDownloadError, requests.RequestException, IOError) as e:
                why = why_not_retried(e)
                if why is not None:
                    raise DownloadError("Could not download %s: %s; not retried: %s"
                                        % (url, _error_text(e), why)) from None
                last_error = e
                if verbose and attempt + 1 < num_attempts:
                    print("Downloading %s failed (%s); retrying" % (url, error_line(e)), file=sys.stderr)
    raise DownloadError("Could not download %s after %d attempt(s): %s"
                        % (url, num_attempts, _error_text(last_error)))


def _error_text(error: BaseException) -> str:
    """`error_line`, but our own download errors as their bare message."""
    if isinstance(error, (_FatalDownloadError, _FollowUrl)) or type(error) in (IOError, OSError):
        return " ".join(str(error).split())
    return error_line(error)


def probe_url(url: str, num_attempts: int = 2) -> Optional[str]:
    """Can `url` (http or https) be downloaded? None if the server answers the request with a success status
    (nothing but the headers is read), else the reason in a few words. Fails at once on errors that another
    attempt would not fix, like `open_url`; other errors get `num_attempts` quick tries."""
    import requests  # pylint: disable=import-outside-toplevel

    last_error = None
    with requests.Session() as session:
        for attempt in range(num_attempts):
            if attempt > 0:
                time.sleep(_RETRY_FIRST_DELAY_S)
            try:
                with session.get(url, stream=True, timeout=_PROBE_TIMEOUT_S) as response:
                    _check_http_status(response)
                return None
            except (_FatalDownloadError, requests.RequestException, IOError) as e:
                why = why_not_retried(e)
                if why is not None:
                    return "%s: %s" % (why, _error_text(e))
                last_error = e
    return "%s after %d attempt(s)" % (_error_text(last_error), num_attempts)


def find_in_cache(url: str, cache_dir: str = None, md5: str = None) -> Optional[str]:
    """The path of the cached download of `url` (see `open_url`), or None. With `md5`, only a copy whose
    content has that md5 counts."""
    if cache_dir is None:
        cache_dir = default_cache_dir()
    for cached_path in sorted(glob.glob(os.path.join(glob.escape(cache_dir), cache_file_prefix(url) + "*"))):
        if md5 is None or file_md5(cached_path) == md5.lower():
            return cached_path
    return None


def cache_file_prefix(url: str) -> str:
    """The start of the names of `url`'s files in the download cache: `<md5 of the url>_`. Any file of the
    cache whose name starts so is taken as the download of `url` (e.g. a copy put there by hand)."""
    return hashlib.md5(url.encode("utf-8")).hexdigest() + "_"


def write_file_atomically(path: str, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part.

    The bytes go to a temporary file in the same directory (made if missing), which is then renamed over
    `path`; the file gets the permissions a plain `open(path, "wb")` would give it.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temp_path = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_path, 0o666 & ~umask)
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.remove(temp_path)
        except OSError:
            pass
        raise


def _check_md5(url: str, expected: str, actual: str) -> None:
    if actual != expected.lower():
        raise DownloadError("MD5 mismatch for %s: expected %s, got %s" % (url, expected, actual))


def open_url(url: str, cache_dir: str = None, num_attempts: int = 10, verbose: bool = True,
             return_filename: bool = False, cache: bool = True, md5: str = None) -> Any:
    """Open a URL or a local file as a binary file object (or give its file name).

    Local files (plain paths and file:// URLs) are opened in place and never copied into the cache.
    http(s) downloads are tried `num_attempts` times and, with `cache`, stored in `cache_dir`
    (default: `default_cache_dir()`) as `<md5 of url>_<file name>`; later calls read the cached copy.
    With `md5` (hex digest), data that does not match raises DownloadError and is not cached.
    Returns an open file, an io.BytesIO, or with `return_filename` the path of the local/cached file.
    """
    if not isinstance(url, str):
        raise TypeError("open_url: url must be a string, got %r" % (url,))
    if num_attempts < 1:
        raise ValueError("open_url: num_attempts must be at least 1, got %d" % num_attempts)

    # Local files.
    local_path = _local_path_of(url)
    if local_path is not None:
        if md5 is not None:
            _check_md5(url, md5, file_md5(local_path))
        return local_path if return_filename else open(local_path, "rb")

    if not is_url(url) or urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ValueError("open_url: not an http(s) URL, a file:// URL or a local path: %r" % url)
    if return_filename and not cache:
        raise ValueError("open_url: return_filename=True needs cache=True (the file must be stored)")

    # Look in the cache (a stale or foreign copy, whose md5 does not match, is downloaded again).
    if cache:
        if cache_dir is None:
            cache_dir = default_cache_dir()
        cached_path = find_in_cache(url, cache_dir, md5)
        if cached_path is not None:
            return cached_path if return_filename else open(cached_path, "rb")

    # Download.
    if verbose:
        print("Downloading %s ..." % url, flush=True)
    data, file_name = _download_with_retries(url, num_attempts, verbose)
    if md5 is not None:
        _check_md5(url, md5, hashlib.md5(data).hexdigest())

    if cache:
        os.makedirs(cache_dir, exist_ok=True)
        cache_path = os.path.join(cache_dir, cache_file_prefix(url) + file_name)
        write_file_atomically(cache_path, data)
        if return_filename:
            return cache_path
    return io.BytesIO(data)
