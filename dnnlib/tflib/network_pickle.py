"""Network pickles: the file format of `Network`, how to read it safely, and how to write it.

A network pickle is a plain pickle (protocol 4) of `Network` objects, typically the tuple `(G, D, Gs)`.
Each Network pickles as a dict, its *state*, with exactly these keys, in this order:

    version           4 (states of versions 2 and 3 load too); 5 for StyleGAN2-ADA networks
    name              the network's name, e.g. "G", "G_synthesis"
    static_kwargs     plain dict of the keyword arguments of its build function
    components        plain dict of its sub-networks (each pickled the same way)
    build_module_src  the full source text of the module that defines the build function
    build_func_name   the build function's name in that module
    variables         [(local_name, numpy value)] of its own variables, in creation order

Version 5 (StyleGAN2-ADA's format, written for networks whose build module is `training.networks`,
ours or an embedded copy) appends `input_shapes`, `output_shapes` (lists with None for the batch),
`input_names` and `output_names`.

Because the state carries source code, unpickling can execute code. `load` therefore runs in one of two
modes, chosen by the caller with `allow_code_execution`:

* safe mode: the pickle may refer to nothing but `Network` and NumPy's array reconstruction, and a
  network is built only with a build function this project implements itself (recognised by the
  function names its embedded source defines); the embedded source is never executed.
* code execution allowed (the official behaviour): any class, and embedded source that we do not
  recognise is executed in a fresh module of its own.

Writing (`save`) produces files that the official code reads under NumPy 1.
"""

import ast
import functools
import importlib
import inspect
import io
import pickle
import pickletools
import re
import sys
import types
import uuid
from typing import Any, Callable, List

from .. import util
from . import tfutil

STATE_VERSION = 4
ADA_STATE_VERSION = 5
READABLE_STATE_VERSIONS = (2, 3, 4, 5)

# Pickles from NVIDIA's download server (the official networks and the metric networks) load with code
# execution allowed unless the caller says otherwise; everything else loads in safe mode by default.
TRUSTED_URL_PREFIXES = (
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/",
    "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/",
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada/pretrained/",
)

# Build modules of this project, each with the function names that identify an embedded copy of it.
# A state whose source defines all of them (and the build function) is built with our module instead.
# StyleGAN2-ADA's build module: networks built by it (ours or an embedded copy) pickle as version 5.
ADA_BUILD_MODULE = ("training.networks", ("G_main", "G_mapping", "G_synthesis", "D_main"))
KNOWN_BUILD_MODULES = (
    ADA_BUILD_MODULE,
    ("training.networks_stylegan2", ("G_main", "G_mapping", "G_synthesis_stylegan2", "D_stylegan2")),
    ("training.networks_stylegan", ("G_style", "G_mapping", "G_synthesis", "D_basic")),
)

# What a network pickle refers to: the Network class and NumPy array reconstruction, under the module
# names of NumPy 1 (`numpy.core`, written by the official code) and NumPy 2 (`numpy._core`).
_NETWORK_CLASS = ("dnnlib.tflib.network", "Network")
SAFE_PICKLE_GLOBALS = frozenset([_NETWORK_CLASS, ("numpy", "ndarray"), ("numpy", "dtype")] + [
    (package + suffix, name)
    for package in ("numpy.core", "numpy._core")
    for suffix, name in ((".multiarray", "_reconstruct"), (".multiarray", "scalar"), (".numeric", "_frombuffer"))
])

_EXEC_MODULE_PREFIX = "_tflib_network_import_"


class NetworkPickleError(Exception):
    """A network pickle could not be loaded. The message is one line: `<file>: <what is wrong>`."""


class UnsafePickleError(pickle.UnpicklingError):
    """Safe mode refused a pickle: loading it would run code that the pickle brings along."""


# ----------------------------------------------------------------------------------------------------
# Import handlers and the sources of executed modules.

_import_handlers = []  # type: List[Callable[[dict], dict]]

# Source text of every module made from an embedded source, by module name: inspect.getsource()
# cannot find text that was never a file, and networks built from such a module pickle it again.
_exec_module_sources = {}


def import_handler(handler: Callable[[dict], dict]) -> Callable[[dict], dict]:
    """Decorator: `handler(state) -> state` rewrites every Network state before it is restored.

    Handlers run in registration order; they are the place to upgrade states written by older code.
    """
    _import_handlers.append(handler)
    return handler


def module_source(module: types.ModuleType) -> str:
    """Full source text of a build module, also for modules made from a pickle's embedded source."""
    known = _exec_module_sources.get(module.__name__)
    return known if known is not None else inspect.getsource(module)


@functools.lru_cache(maxsize=8)  # Pickling (G, D, Gs) asks about the same few sources many times.
def _defined_function_names(src: str) -> frozenset:
    """Names of the top-level `def`s of a module source, found by parsing (nothing is executed)."""
    try:
        body = ast.parse(src).body
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(node.name for node in body if isinstance(node, ast.FunctionDef))


def _is_copy_of(src: str, known_module: tuple) -> bool:
    """Does `src` define every function that identifies `known_module` (an entry like those of KNOWN_BUILD_MODULES)?"""
    return set(known_module[1]) <= _defined_function_names(src)


def _our_build_func(src: str, func_name: str) -> Any:
    """This project's function `func_name` when `src` is a copy of one of KNOWN_BUILD_MODULES, else None."""
    defined = _defined_function_names(src)
    if func_name not in defined:
        return None
    for module_name, signature_names in KNOWN_BUILD_MODULES:
        if set(signature_names) <= defined:
            func = getattr(importlib.import_module(module_name), func_name, None)
            if func is not None:
                return func
    return None


def _with_compat_v1_import(src: str) -> str:
    """The source with `import tensorflow as tf` lines importing TF's v1 API (official sources are TF1 code)."""
    return re.sub(r"^(\s*)import tensorflow as tf\s*$", r"\1import tensorflow.compat.v1 as tf", src, flags=re.MULTILINE)


def _exec_embedded_source(src: str, func_name: str) -> Callable:
    """Run `src` as a new module of its own (a fresh one per network, as the official loader does)."""
    module = types.ModuleType(_EXEC_MODULE_PREFIX + uuid.uuid4().hex)
    # Registered before running: the code looks itself up by name when it builds sub-networks.
    sys.modules[module.__name__] = module
    _exec_module_sources[module.__name__] = src
    exec(compile(_with_compat_v1_import(src), "<%s>" % module.__name__, "exec"), module.__dict__)  # pylint: disable=exec-used
    func = util.get_obj_from_module(module, func_name)
    assert callable(func), "%s in the embedded source is not callable" % func_name
    return func


# ----------------------------------------------------------------------------------------------------
# Network state <-> Network.

def network_state(net: Any) -> dict:
    """The pickled state of a Network (see the module docstring for its keys): version 5 when its build
    module is (a copy of) `training.networks`, else version 4."""
    names = list(net.own_vars.keys())
    values = tfutil.run([net.own_vars[name] for name in names])
    src = net._build_module_src  # pylint: disable=protected-access
    is_ada = _is_copy_of(src, ADA_BUILD_MODULE)
    state = dict(version=ADA_STATE_VERSION if is_ada else STATE_VERSION,
                 name=net.name,
                 static_kwargs=dict(net.static_kwargs),
                 components=dict(net.components),
                 build_module_src=src,
                 build_func_name=net._build_func_name,  # pylint: disable=protected-access
                 variables=list(zip(names, values)))
    if is_ada:
        state.update(input_shapes=[list(shape) for shape in net.input_shapes],
                     output_shapes=[list(shape) for shape in net.output_shapes],
                     input_names=list(net.input_names),
                     output_names=list(net.output_names))
    return state


def _accepted_state(state: dict, allow_code_execution: bool) -> tuple:
    """(state after the import handlers, this project's build function for it or None when only the
    embedded source can build it). Raises for unknown versions, and when safe mode forbids that source."""
    for handler in _import_handlers:
        state = handler(state)
    if state.get("version") not in READABLE_STATE_VERSIONS:
        raise ValueError("unsupported Network pickle version %r (supported: %s)"
                         % (state.get("version"), READABLE_STATE_VERSIONS))
    build_func = _our_build_func(state["build_module_src"], state["build_func_name"])
    if build_func is None and not allow_code_execution:
        raise UnsafePickleError("network %r is built by %r, which this project does not implement; loading it "
                                "would execute code stored in the pickle (allow that only for files you trust)"
                                % (state["name"], state["build_func_name"]))
    return state, build_func


def restore_network(net: Any, state: dict, allow_code_execution: bool = True) -> None:
    """Build a blank Network object from a pickled state and give its variables the pickled values.

    Needs a default TF session. The state's components are already restored Networks (pickle restores
    inner objects first), so build functions reuse them instead of creating sub-networks.
    """
    tfutil.assert_tf_initialized()
    state, build_func = _accepted_state(state, allow_code_execution)
    src, func_name = state["build_module_src"], state["build_func_name"]
    built_by_our_code = build_func is not None
    if not built_by_our_code:
        build_func = _exec_embedded_source(src, func_name)

    net._setup(state["name"], state["static_kwargs"], state.get("components", {}),  # pylint: disable=protected-access
               build_func, func_name, src)
    net.reset_own_vars()
    _assign_pickled_values(net, state["variables"], expect_all=built_by_our_code)


def _assign_pickled_values(net: Any, variables: list, expect_all: bool) -> None:
    """Set the network's own variables from `(local_name, value)` pairs, checking that the names fit.

    With `expect_all`, every variable the build function created must be in the pickle: our build code
    is meant to rebuild official networks exactly, so a gap means the pickle and the code disagree.
    """
    pickled = [name for name, _ in variables]
    extra = [name for name in pickled if name not in net.own_vars]
    missing = [name for name in net.own_vars if name not in set(pickled)] if expect_all else []
    for problem, names in (("has variables that %s does not create", extra),
                           ("lacks variables that %s creates", missing)):
        if names:
            raise ValueError("network %r in the pickle %s: %s"
                             % (net.name, problem % net._build_func_name, ", ".join(names[:5])))  # pylint: disable=protected-access
    tfutil.set_vars({net.find_var(name): value for name, value in variables})


# ----------------------------------------------------------------------------------------------------
# Reading.

def _restoring_subclass(network_class: type, allow_code_execution: bool) -> type:
    """A stand-in for `Network` inside one unpickler: it restores with that unpickler's policy.

    Each object turns into a plain `network_class` instance before it is restored, so nothing of the
    stand-in survives the load.
    """
    class _Restoring(network_class):
        def __init__(self, *args, **kwargs):  # pylint: disable=super-init-not-called
            # Pickles of Networks never call the constructor; one that does could import any module.
            if not allow_code_execution:
                raise UnsafePickleError("it calls Network(%s), which a network pickle never does"
                                        % ", ".join(map(repr, args + tuple(kwargs.values())))[:200])
            self.__class__ = network_class
            network_class.__init__(self, *args, **kwargs)

        def __setstate__(self, state):
            self.__class__ = network_class
            restore_network(self, state, allow_code_execution=allow_code_execution)

    return _Restoring


class _NetworkUnpickler(pickle.Unpickler):
    """Reads a network pickle with an explicit policy on code execution (see the module docstring)."""

    def __init__(self, file, allow_code_execution: bool):
        super().__init__(file, encoding="latin1")
        self._allow_code_execution = allow_code_execution
        self._network_class = None

    def find_class(self, module, name):
        if (module, name) == _NETWORK_CLASS:
            if self._network_class is None:
                self._network_class = _restoring_subclass(super().find_class(module, name), self._allow_code_execution)
            return self._network_class
        if self._allow_code_execution or (module, name) in SAFE_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError("it refers to %s.%s, which a network pickle does not need "
                                "(only Network and NumPy arrays are allowed in safe mode)" % (module, name))


def load_network_pickle(file, allow_code_execution: bool = False) -> Any:
    """Unpickle Networks from an open binary file (no error translation; see `load`). Needs a TF session."""
    return _NetworkUnpickler(file, allow_code_execution).load()


def is_trusted_source(path_or_url) -> bool:
    """True for URLs on NVIDIA's download server (TRUSTED_URL_PREFIXES); local files are never trusted."""
    return isinstance(path_or_url, str) and path_or_url.startswith(TRUSTED_URL_PREFIXES)


def open_file_or_url(path_or_url):
    """A binary file object: a local path or file:// URL as it is, an http(s) URL through the download cache."""
    if not util.is_url(path_or_url, allow_file_urls=True):
        return open(path_or_url, "rb")
    return util.open_url(path_or_url, cache_dir=util.default_cache_dir())


def _why_not_loadable(error: BaseException, where: str) -> str:
    """One line for users: which file, and what is wrong with it, from the exception its loading raised."""
    if isinstance(error, FileNotFoundError):
        return "%s: no such file" % where
    if isinstance(error, IsADirectoryError):
        return "%s: is a directory, not a network pickle" % where
    if isinstance(error, util.DownloadError):
        return str(error)  # Already one line, naming the URL.
    if isinstance(error, UnsafePickleError):
        return ("%s: refused in safe mode: %s; pass allow_code_execution=True (CLI: --allow-code-execution) only "
                "if you trust this file" % (where, error))
    if isinstance(error, EOFError):
        return "%s: truncated pickle (the file ends early; an interrupted download or copy?)" % where
    reason = util.error_line(error)
    if isinstance(error, pickle.UnpicklingError):
        kind = "truncated pickle" if "truncated" in reason else "not a valid pickle file"
        return "%s: %s (%s)" % (where, kind, reason)
    return "%s: not a usable network pickle (%s)" % (where, reason)


# What a broken, foreign or unreachable file can raise while it loads; other errors are bugs and propagate.
_LOAD_ERRORS = (FileNotFoundError, IsADirectoryError, util.DownloadError, pickle.UnpicklingError, EOFError,
                ValueError, KeyError, TypeError, AttributeError, ImportError)


def load(path_or_url, allow_code_execution: bool = None) -> Any:
    """Load a network pickle (e.g. the official `(G, D, Gs)`) from a path or URL. Needs a default TF session.

    Args:
        path_or_url: Local path, file:// URL or http(s) URL (downloads are cached).
        allow_code_execution: Whether the pickle may run the code it embeds (see the module docstring).
            None: only for files from NVIDIA's download server (`is_trusted_source`).

    Raises:
        NetworkPickleError with a one-line message that names the file.
    """
    if allow_code_execution is None:
        allow_code_execution = is_trusted_source(path_or_url)
    try:
        with open_file_or_url(path_or_url) as f:
            return load_network_pickle(f, allow_code_execution=allow_code_execution)
    except _LOAD_ERRORS as e:
        raise NetworkPickleError(_why_not_loadable(e, path_or_url)) from None


class _UnbuiltNetwork:
    """What `check` makes of a pickled Network: the state is judged as `load` would judge it, nothing built."""

    def __init__(self, *args, **kwargs):
        raise UnsafePickleError("it calls Network(%s), which a network pickle never does"
                                % ", ".join(map(repr, args + tuple(kwargs.values())))[:200])

    def __setstate__(self, state):
        _accepted_state(state, allow_code_execution=False)


class _CheckingUnpickler(_NetworkUnpickler):
    """Safe mode's unpickler with `_UnbuiltNetwork` in place of Network: needs no TF session."""

    def __init__(self, file):
        super().__init__(file, allow_code_execution=False)

    def find_class(self, module, name):
        if (module, name) == _NETWORK_CLASS:
            return _UnbuiltNetwork
        return super().find_class(module, name)


def _walk_opcodes(file) -> None:
    """Read every opcode of a pickle up to its STOP without running any (a check of its structure)."""
    try:
        for _ in pickletools.genops(file):
            pass
    except ValueError as e:
        if "exhausted" in str(e):
            raise EOFError(str(e)) from None
        raise pickle.UnpicklingError(str(e)) from None


def check(path_or_url, allow_code_execution: bool = None) -> None:
    """Would `load` accept this pickle? Raises `NetworkPickleError` (the message `load` would give) if not.

    Builds no network and needs no TF session. In safe mode the pickle is read as `load` reads it, with
    stand-ins for the networks, so a refusal or a truncated file shows here. With code execution allowed,
    nothing of the pickle may run twice: only its structure is read, which finds truncated and garbled files.
    """
    if allow_code_execution is None:
        allow_code_execution = is_trusted_source(path_or_url)
    try:
        with open_file_or_url(path_or_url) as f:
            if allow_code_execution:
                _walk_opcodes(f)
            else:
                _CheckingUnpickler(f).load()
    except _LOAD_ERRORS as e:
        raise NetworkPickleError(_why_not_loadable(e, path_or_url)) from None


# ----------------------------------------------------------------------------------------------------
# Writing.

class _NumPy1NamesPickler(pickle._Pickler):  # pylint: disable=protected-access
    """A pickler that refers to NumPy 2's `numpy._core.*` globals by their NumPy 1 names, `numpy.core.*`.

    NumPy 2 can import both names, NumPy 1 (the official code's) only the old one, so files written with
    the old names load on either side. The pure-Python pickler is used because the C one has no hook here.
    """

    def save_global(self, obj, name=None):
        module_name = getattr(obj, "__module__", None) or ""
        if self.proto < 4 or not module_name.startswith("numpy._core"):
            super().save_global(obj, name)
            return
        self.save("numpy.core" + module_name[len("numpy._core"):])
        self.save(name or getattr(obj, "__qualname__", None) or obj.__name__)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def save(obj: Any, path: str) -> None:
    """Pickle `obj` to `path` as the official pickles are written (protocol 4), atomically.

    Pickling finishes before the file is touched, so a failure leaves an existing file as it was.
    """
    buffer = io.BytesIO()
    _NumPy1NamesPickler(buffer, protocol=4).dump(obj)
    util.write_file_atomically(path, buffer.getvalue())
