"""Build the custom CUDA ops with nvcc at first use, cache the binaries, and pick an implementation.

`get_plugin(cuda_file)` compiles a `.cu` file into a TensorFlow op library with the compile and link
flags that TensorFlow itself reports (`tf.sysconfig`), for the architecture of the GPU present, caches
the binary under a hash of the source, the included headers (the kernel headers beside the `.cu`
file always), the command line and the TF version, and loads it with `tf.load_op_library`.

`choose_impl(cuda_file)` answers 'cuda' or 'ref' for ops called without `impl=`: 'cuda' when a GPU
and nvcc are there and the build works, else 'ref' (plain TF ops), with one notice saying why.
"""

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

import tensorflow.compat.v1 as tf

from .. import util

# ----------------------------------------------------------------------------------------------------
# Module options (the official names).

cuda_cache_path = os.path.join(os.path.dirname(__file__), "_cudacache")
cuda_cache_version_tag = "v1"
do_not_hash_included_headers = False  # Speeds up hashing, but changes in TF headers go unnoticed.
verbose = True  # Print what is being compiled.

# Environment overrides.
IMPL_ENV_VAR = "STYLEGAN2_OPS_IMPL"  # 'auto' (default), 'ref' or 'cuda'.
ARCH_ENV_VAR = "STYLEGAN2_CUDA_ARCH"  # e.g. 'sm_80'; default: the GPU's own.
DEFAULT_ARCH_WITHOUT_GPU = "sm_80"

# In-process caches: loaded plugins by path, decisions by path, notices already printed.
_plugin_cache = {}
_impl_cache = {}
_printed_notices = set()


# ----------------------------------------------------------------------------------------------------
# Environment probing.

def find_nvcc():
    """Path of nvcc ($CUDA_HOME/bin, $PATH, /usr/local/cuda/bin), or None."""
    candidates = []
    for env_var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(env_var):
            candidates.append(os.path.join(os.environ[env_var], "bin", "nvcc"))
    on_path = shutil.which("nvcc")
    if on_path:
        candidates.append(on_path)
    candidates.append("/usr/local/cuda/bin/nvcc")
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def list_gpu_compute_capabilities():
    """Compute capabilities of the visible GPUs as (major, minor) tuples, without creating a session."""
    import tensorflow as tf_root  # pylint: disable=import-outside-toplevel
    try:
        gpus = tf_root.config.experimental.list_physical_devices("GPU")
    except AttributeError:  # Very old TF.
        gpus = []
    capabilities = []
    for gpu in gpus:
        capability = None
        get_details = getattr(tf_root.config.experimental, "get_device_details", None)
        if get_details is not None:
            capability = get_details(gpu).get("compute_capability")
        if capability is None:
            capability = _compute_capability_from_device_lib(len(capabilities))
        capabilities.append(tuple(capability) if capability else None)
    return capabilities


def _compute_capability_from_device_lib(index):
    # TF 1.15 has no get_device_details; the device description string holds the capability.
    from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel
    gpus = [d for d in device_lib.list_local_devices() if d.device_type == "GPU"]
    if index >= len(gpus):
        return None
    match = re.search(r"compute capability: (\d+)\.(\d+)", gpus[index].physical_device_desc)
    return (int(match.group(1)), int(match.group(2))) if match else None


def get_cuda_arch():
    """The `sm_XY` to build for: $STYLEGAN2_CUDA_ARCH, else the first GPU's, else sm_80."""
    if os.environ.get(ARCH_ENV_VAR):
        return os.environ[ARCH_ENV_VAR]
    capabilities = [c for c in list_gpu_compute_capabilities() if c]
    if capabilities:
        return "sm_%d%d" % capabilities[0]
    return DEFAULT_ARCH_WITHOUT_GPU


# ----------------------------------------------------------------------------------------------------
# Compilation.

def _tf_compile_flags():
    flags = list(tf.sysconfig.get_compile_flags())
    if tf.VERSION.startswith("1."):
        # TF 1.15 headers need C++14; its sysconfig still says C++11.
        flags = [f for f in flags if not re.match(r"^-?-std=", f)] + ["-std=c++14"]
    return flags


def _nvcc_options(arch):
    """Everything on the nvcc command line except the source and output (a list of arguments)."""
    return (
        ["--shared"]
        + _tf_compile_flags()
        + ["-DGOOGLE_CUDA=1", "-DNDEBUG", "-Xcompiler", "-fPIC", "--use_fast_math",
           "-arch=%s" % arch, "--expt-relaxed-constexpr", "-w"]
        + list(tf.sysconfig.get_link_flags())
    )


def _run(cmd, cwd=None):
    result = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=False)
    return result.returncode, result.stdout


def _preprocessed_source(nvcc, cuda_file, arch):
    """The nvcc-preprocessed text, so that a change in an included header changes the hash."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        out_file = os.path.join(tmp_dir, "preprocessed.cu")
        cmd = [nvcc, cuda_file, "-E", "-o", out_file] + [
            f for f in _tf_compile_flags() if f.startswith(("-I", "-D", "-std", "--std"))
        ] + ["-DGOOGLE_CUDA=1", "-DNDEBUG", "-arch=%s" % arch]
        code, output = _run(cmd)
        if code != 0:
            raise RuntimeError("nvcc could not preprocess %s:\n%s" % (cuda_file, output))
        with open(out_file, "r", errors="replace") as f:
            lines = f.readlines()
    abs_path = os.path.abspath(cuda_file)
    name = os.path.basename(cuda_file)
    kept = [line.replace(abs_path, name) for line in lines if not line.startswith(("# ", "#line "))]
    return "".join(kept)


def get_plugin(cuda_file, arch=None):
    """Compile (or take from the cache) and load the op library for `cuda_file`; returns its module.

    Raises RuntimeError with nvcc's output when nvcc is missing or the build fails.
    """
    cuda_file = os.path.abspath(cuda_file)
    if cuda_file in _plugin_cache and arch is None:
        return _plugin_cache[cuda_file]

    nvcc = find_nvcc()
    if nvcc is None:
        raise RuntimeError("nvcc not found (looked in $CUDA_HOME/bin, $PATH and /usr/local/cuda/bin)")
    if not os.path.isfile(cuda_file):
        raise RuntimeError("CUDA source not found: %s" % cuda_file)
    if arch is None:
        arch = get_cuda_arch()
    options = _nvcc_options(arch)
    bin_file = binary_path(nvcc, cuda_file, arch, options)
    if not os.path.isfile(bin_file):
        _compile(nvcc, cuda_file, options, bin_file)

    if verbose:
        print("Loading custom op library %s" % bin_file)
    plugin = tf.load_op_library(bin_file)
    _plugin_cache[cuda_file] = plugin
    return plugin


_QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def local_headers(cuda_file):
    """The headers that `cuda_file` includes with quotes and that exist beside it, and theirs, in order.

    These hold the kernels themselves (e.g. upfirdn_2d_kernels.h), so their bytes are part of the
    cache key even when `do_not_hash_included_headers` skips the preprocessor run.
    """
    found = []
    pending = [os.path.abspath(cuda_file)]
    while pending:
        current = pending.pop(0)
        with open(current, "r", errors="replace") as f:
            names = _QUOTED_INCLUDE.findall(f.read())
        for name in names:
            path = os.path.normpath(os.path.join(os.path.dirname(current), name))
            if os.path.isfile(path) and path not in found:
                found.append(path)
                pending.append(path)
    return found


def binary_path(nvcc, cuda_file, arch, options):
    """Cache path of the binary: `<name>_<md5>.so`, the md5 over everything that shapes the build.

    That is the source, our own headers beside it (`local_headers`, always), every header it
    includes as nvcc preprocesses it (unless `do_not_hash_included_headers`), the nvcc command line,
    the TensorFlow version and `cuda_cache_version_tag`.
    """
    md5 = hashlib.md5()
    for path in [cuda_file] + local_headers(cuda_file):
        with open(path, "rb") as f:
            md5.update(f.read())
    if not do_not_hash_included_headers:
        md5.update(_preprocessed_source(nvcc, cuda_file, arch).encode("utf-8"))
    md5.update(" ".join([os.path.basename(nvcc)] + list(options)).encode("utf-8"))
    md5.update(tf.VERSION.encode("utf-8"))
    md5.update(cuda_cache_version_tag.encode("utf-8"))
    name = os.path.splitext(os.path.basename(cuda_file))[0]
    return os.path.join(cuda_cache_path, "%s_%s.so" % (name, md5.hexdigest()))


def _compile(nvcc, cuda_file, options, bin_file):
    """Build into a temp dir, then move into the cache with an atomic rename."""
    if verbose:
        print("Compiling %s with nvcc... " % os.path.basename(cuda_file), end="", flush=True)
    os.makedirs(cuda_cache_path, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp_bin = os.path.join(tmp_dir, os.path.basename(bin_file))
        cmd = [nvcc, cuda_file, "-o", tmp_bin] + options
        code, output = _run(cmd, cwd=tmp_dir)
        if code != 0:
            if verbose:
                print("failed")
            raise RuntimeError("nvcc failed to build %s:\n%s\n%s" % (cuda_file, " ".join(cmd), output))
        with open(tmp_bin, "rb") as f:
            util.write_file_atomically(bin_file, f.read())
    if verbose:
        print("done")


def clear_cache():
    """Delete every cached binary (the in-process cache of loaded plugins stays)."""
    for path in glob.glob(os.path.join(cuda_cache_path, "*.so")):
        os.remove(path)


# ----------------------------------------------------------------------------------------------------
# Choosing the implementation of ops called without `impl=`.

def _notice(message):
    if message not in _printed_notices:
        _printed_notices.add(message)
        print(message, file=sys.stderr, flush=True)


def choose_impl(cuda_file):
    """'cuda' or 'ref' for the op defined in `cuda_file` (decided once per process)."""
    cuda_file = os.path.abspath(cuda_file)
    if cuda_file in _impl_cache:
        return _impl_cache[cuda_file]

    requested = os.environ.get(IMPL_ENV_VAR, "auto").strip().lower()
    if requested not in ("auto", "ref", "cuda"):
        raise ValueError("%s must be 'auto', 'ref' or 'cuda', not %r" % (IMPL_ENV_VAR, requested))

    impl = "ref"
    op_name = os.path.splitext(os.path.basename(cuda_file))[0]
    if requested == "ref":
        reason = "%s=ref" % IMPL_ENV_VAR
    elif requested == "cuda":
        get_plugin(cuda_file)  # Forced: let a build failure raise.
        impl, reason = "cuda", None
    elif not list_gpu_compute_capabilities():
        reason = "no GPU found"
    elif find_nvcc() is None:
        reason = "nvcc not found"
    else:
        try:
            get_plugin(cuda_file)
            impl, reason = "cuda", None
        except Exception as e:  # pylint: disable=broad-except
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            reason = "the CUDA build of %s failed: %s" % (op_name, first_line)

    if reason is not None:
        _notice("StyleGAN2 custom ops: using the reference TensorFlow implementation (%s)." % reason)
    _impl_cache[cuda_file] = impl
    return impl
