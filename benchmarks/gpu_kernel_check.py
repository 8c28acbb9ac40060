"""Check the CUDA kernels of the custom ops on a GPU against NumPy, without TensorFlow.

Usage:
    python benchmarks/gpu_kernel_check.py              # on the GPU, through CuPy (about a minute)
    python benchmarks/gpu_kernel_check.py --host       # the same cases through the host compiler
    python benchmarks/gpu_kernel_check.py --nvcc-only  # only compile the GPU source with nvcc

The kernels live in two headers free of TensorFlow, `dnnlib/tflib/ops/upfirdn_2d_kernels.h` and
`fused_bias_act_kernels.h`; the op files (`*.cu`) include them. This script puts both headers into one
CUDA source, compiles it with CuPy (NVRTC, `--use_fast_math` as the op build), runs the `__global__`
kernels on random float32 inputs and compares each result with a float64 NumPy computation of the
definition:

  upfirdn_2d      zero-insertion upsampling, padding or cropping, a true 2-D convolution with the
                  filter, keeping every `down`-th sample: the configurations the networks use (upsample,
                  downsample, the FIR halves of the up/down convolutions, filter_2d; one channel per
                  image as in NCHW and many as in NHWC) and others (crops, odd and asymmetric factors
                  and filters, filters larger than the image), plus random ones.
  fused_bias_act  every activation, forward pass and first and second derivative kernels, with and
                  without bias, bias along different axes, default and other gains and alpha, gain 0,
                  and inputs of +-100 (clamped exponentials must stay finite).

Every case runs twice: with the launch shape of the op (256 threads, enough blocks) and with a grid of
3 x 64 threads, which makes every thread stride over many elements. Prints one line per case and a
summary; exits 1 on any mismatch. Where there is no CuPy or no GPU it says so and exits 0; `--host`
then runs every case through the headers' CPU loops (the code the TensorFlow CPU kernels use).
"""

import argparse
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

OPS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dnnlib", "tflib", "ops")
HEADERS = ["fused_bias_act_kernels.h", "upfirdn_2d_kernels.h"]

# Fields of the two parameter structs, in declaration order, with their NumPy types. The layout of
# the compiled structs is measured (`struct_layout`) and must match before anything is launched.
FBA_FIELDS = [("grad", "<i4"), ("act", "<i4"), ("alpha", "<f4"), ("gain", "<f4"), ("clamp", "<f4"),
              ("count", "<i8"), ("bias_len", "<i8"), ("bias_step", "<i8")]
UFD_FIELDS = [(name, "<i4") for name in ["images", "in_h", "in_w", "channels", "taps_h", "taps_w",
                                          "up_x", "up_y", "down_x", "down_y",
                                          "pad_x0", "pad_x1", "pad_y0", "pad_y1", "out_h", "out_w"]]
FBA_DTYPE = np.dtype(FBA_FIELDS, align=True)
UFD_DTYPE = np.dtype(UFD_FIELDS, align=True)

ACTIVATIONS = ["linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus", "swish"]
ACT_INDEX = {name: i + 1 for i, name in enumerate(ACTIVATIONS)}  # `cuda_idx` in fused_bias_act.py.
DEFAULT_GAIN = {"relu": np.sqrt(2), "lrelu": np.sqrt(2), "swish": np.sqrt(2)}
DEFAULT_ALPHA = {"lrelu": 0.2}

OP_THREADS, OP_MAX_BLOCKS = 256, 65536  # The launch shape of the TensorFlow op.
NARROW = (3, 64)                         # A grid far smaller than every output.
TOLERANCE = {"upfirdn_2d": 1e-5, "fused_bias_act": 1e-4}  # Of max(1, max |expected|).

GPU_KERNELS = {"fused_bias_act": "fba::fused_bias_act_kernel<float>", "upfirdn_2d": "ufd::upfirdn_2d_kernel<float>"}


# ----------------------------------------------------------------------------------------------------
# Sources.

def header_text(name):
    with open(os.path.join(OPS_DIR, name)) as f:
        return "".join(line for line in f if not line.strip().startswith("#pragma once"))


def layout_probe_body():
    """C++ statements that write sizeof and the field offsets of both structs to `out`."""
    lines = ["fba::Params p; ufd::Geometry g; long long* o = out;"]
    for var, struct, fields in [("p", "fba::Params", FBA_FIELDS), ("g", "ufd::Geometry", UFD_FIELDS)]:
        lines.append("*o++ = (long long)sizeof(%s);" % struct)
        for name, _ in fields:
            lines.append("*o++ = (long long)((const char*)&%s.%s - (const char*)&%s);" % (var, name, var))
    return "\n    ".join(lines)


def expected_layout():
    values = []
    for dtype, fields in [(FBA_DTYPE, FBA_FIELDS), (UFD_DTYPE, UFD_FIELDS)]:
        values.append(dtype.itemsize)
        values.extend(dtype.fields[name][1] for name, _ in fields)
    return values


def gpu_source():
    """Both headers and a layout probe: what CuPy compiles (nvcc-only mode adds instantiations)."""
    probe = '\nextern "C" __global__ void struct_layout(long long* out)\n{\n    if (blockIdx.x == 0 && threadIdx.x == 0) {\n    %s\n    }\n}\n'
    return "".join(header_text(name) for name in HEADERS) + probe % layout_probe_body()


def host_source():
    return "".join('#include "%s"\n' % name for name in HEADERS) + """
extern "C" void struct_layout(long long* out)
{
    %s
}
extern "C" void run_fused_bias_act(const fba::Params* p, const float* x, const float* b, const float* ref, float* y)
{
    fba::run_on_host(*p, x, b, ref, y);
}
extern "C" void run_upfirdn_2d(const ufd::Geometry* g, const float* x, const float* k, float* y)
{
    ufd::run_on_host(*g, x, k, y);
}
""" % layout_probe_body()


def run_command(cmd):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if result.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), result.stdout))


def nvcc_compile_only(nvcc, arch="sm_80"):
    """Compile the GPU source to PTX with nvcc, with float and half instantiations (syntax check)."""
    instances = """
#include <cuda_fp16.h>
template __global__ void fba::fused_bias_act_kernel<float>(fba::Params, const float*, const float*, const float*, float*);
template __global__ void fba::fused_bias_act_kernel<__half>(fba::Params, const __half*, const __half*, const __half*, __half*);
template __global__ void ufd::upfirdn_2d_kernel<float>(ufd::Geometry, const float*, const float*, float*);
template __global__ void ufd::upfirdn_2d_kernel<__half>(ufd::Geometry, const __half*, const __half*, __half*);
"""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "kernels.cu")
        with open(src, "w") as f:
            f.write(gpu_source() + instances)
        ptx = os.path.join(tmp, "kernels.ptx")
        run_command([nvcc, "--ptx", "-std=c++14", "--use_fast_math", "-arch=%s" % arch, src, "-o", ptx])
        with open(ptx) as f:
            return len(re.findall(r"^\.(?:visible )?\.?entry ", f.read(), re.MULTILINE))


# ----------------------------------------------------------------------------------------------------
# NumPy definitions (float64).

def upfirdn_2d_reference(x, k, up_x, up_y, down_x, down_y, pad_x0, pad_x1, pad_y0, pad_y1):
    """x [images, h, w, channels], k [kh, kw] -> [images, out_h, out_w, channels]."""
    images, h, w, channels = x.shape
    grid = np.zeros([images, h * up_y, w * up_x, channels])
    grid[:, ::up_y, ::up_x, :] = x
    grid = np.pad(grid, [(0, 0), (max(pad_y0, 0), max(pad_y1, 0)), (max(pad_x0, 0), max(pad_x1, 0)), (0, 0)])
    grid = grid[:, max(-pad_y0, 0): grid.shape[1] - max(-pad_y1, 0), max(-pad_x0, 0): grid.shape[2] - max(-pad_x1, 0)]
    kh, kw = k.shape
    full_h, full_w = grid.shape[1] - kh + 1, grid.shape[2] - kw + 1
    flipped = k[::-1, ::-1]
    out = np.zeros([images, full_h, full_w, channels])
    for dy in range(kh):
        for dx in range(kw):
            out += flipped[dy, dx] * grid[:, dy: dy + full_h, dx: dx + full_w, :]
    return out[:, ::down_y, ::down_x, :]


def _sigmoid(s):
    return np.where(s >= 0, 1 / (1 + np.exp(-np.abs(s))), np.exp(-np.abs(s)) / (1 + np.exp(-np.abs(s))))


def activation_reference(act, order, s, alpha):
    """f(s), f'(s) or f''(s) of `act` (order 0, 1, 2)."""
    lam, sel = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
    pos = s > 0
    sig = _sigmoid(s)
    neg_exp = np.exp(np.minimum(s, 0))
    table = {
        "linear":   (s, np.ones_like(s), np.zeros_like(s)),
        "relu":     (np.where(pos, s, 0), pos * 1.0, np.zeros_like(s)),
        "lrelu":    (np.where(pos, s, alpha * s), np.where(pos, 1, alpha), np.zeros_like(s)),
        "tanh":     (np.tanh(s), 1 - np.tanh(s) ** 2, -2 * np.tanh(s) * (1 - np.tanh(s) ** 2)),
        "sigmoid":  (sig, sig * (1 - sig), sig * (1 - sig) * (1 - 2 * sig)),
        "elu":      (np.where(pos, s, np.expm1(np.minimum(s, 0))), np.where(pos, 1, neg_exp), np.where(pos, 0, neg_exp)),
        "selu":     (lam * np.where(pos, s, sel * np.expm1(np.minimum(s, 0))), lam * np.where(pos, 1, sel * neg_exp),
                     lam * np.where(pos, 0, sel * neg_exp)),
        "softplus": (np.logaddexp(0, s), sig, sig * (1 - sig)),
        "swish":    (s * sig, sig * (1 + s * (1 - sig)), sig * (1 - sig) * (2 + s * (1 - 2 * sig))),
    }
    return table[act][order]


# ----------------------------------------------------------------------------------------------------
# Cases.

def network_filter(taps=(1, 3, 3, 1), gain=1.0):
    k = np.outer(taps, taps).astype(np.float64)
    return k / k.sum() * gain


def upfirdn_2d_cases(rnd, count_random):
    """[(name, x shape, k, attributes)]."""
    k4 = network_filter()
    cases = [
        ("net upsample_2d (N*C images)", [16, 32, 32, 1], k4 * 4, dict(up_x=2, up_y=2, pad_x0=2, pad_x1=1, pad_y0=2, pad_y1=1)),
        ("net upsample_2d (NHWC)", [2, 16, 16, 24], k4 * 4, dict(up_x=2, up_y=2, pad_x0=2, pad_x1=1, pad_y0=2, pad_y1=1)),
        ("net upsample_2d 256->512", [2, 256, 256, 1], k4 * 4, dict(up_x=2, up_y=2, pad_x0=2, pad_x1=1, pad_y0=2, pad_y1=1)),
        ("net downsample_2d", [16, 32, 32, 1], k4, dict(down_x=2, down_y=2, pad_x0=1, pad_x1=1, pad_y0=1, pad_y1=1)),
        ("net downsample_2d 512->256", [2, 512, 512, 1], k4, dict(down_x=2, down_y=2, pad_x0=1, pad_x1=1, pad_y0=1, pad_y1=1)),
        ("net upsample_conv_2d FIR", [8, 33, 33, 3], k4 * 4, dict(pad_x0=1, pad_x1=1, pad_y0=1, pad_y1=1)),
        ("net conv_downsample_2d FIR", [8, 32, 32, 3], k4, dict(pad_x0=2, pad_x1=2, pad_y0=2, pad_y1=2)),
        ("net filter_2d", [4, 20, 20, 5], k4, dict(pad_x0=2, pad_x1=1, pad_y0=2, pad_y1=1)),
        ("1x1 filter (copy)", [3, 7, 9, 2], np.ones([1, 1]), dict()),
        ("crop only", [2, 10, 12, 3], rnd.randn(1, 1), dict(pad_x0=-2, pad_x1=-3, pad_y0=-1, pad_y1=-4)),
        ("crop and pad, 3x3", [2, 10, 12, 3], rnd.randn(3, 3), dict(pad_x0=-2, pad_x1=4, pad_y0=3, pad_y1=-1)),
        ("up 4, 8-tap filter", [2, 9, 9, 2], network_filter([1, 3, 5, 7, 7, 5, 3, 1], 16), dict(up_x=4, up_y=4, pad_x0=4, pad_x1=3, pad_y0=4, pad_y1=3)),
        ("down 4, 8-tap filter", [2, 40, 40, 2], network_filter([1, 3, 5, 7, 7, 5, 3, 1]), dict(down_x=4, down_y=4, pad_x0=2, pad_x1=2, pad_y0=2, pad_y1=2)),
        ("up 3 down 2, 5x3 filter", [3, 11, 13, 2], rnd.randn(5, 3), dict(up_x=3, up_y=3, down_x=2, down_y=2, pad_x0=1, pad_x1=2, pad_y0=3, pad_y1=0)),
        ("x and y differ", [2, 12, 7, 3], rnd.randn(2, 6), dict(up_x=1, up_y=2, down_x=3, down_y=1, pad_x0=5, pad_x1=0, pad_y0=0, pad_y1=2)),
        ("filter larger than image", [2, 3, 4, 2], rnd.randn(7, 9), dict(up_x=2, up_y=2, pad_x0=6, pad_x1=6, pad_y0=5, pad_y1=5)),
        ("single pixel", [1, 1, 1, 1], rnd.randn(3, 3), dict(pad_x0=2, pad_x1=2, pad_y0=2, pad_y1=2)),
    ]
    while count_random > 0:
        attrs = dict(up_x=rnd.randint(1, 5), up_y=rnd.randint(1, 5), down_x=rnd.randint(1, 5), down_y=rnd.randint(1, 5),
                     pad_x0=rnd.randint(-4, 7), pad_x1=rnd.randint(-4, 7), pad_y0=rnd.randint(-4, 7), pad_y1=rnd.randint(-4, 7))
        shape = [rnd.randint(1, 4), rnd.randint(1, 20), rnd.randint(1, 20), rnd.randint(1, 5)]
        k = rnd.randn(rnd.randint(1, 8), rnd.randint(1, 8))
        a = _full_attrs(attrs)
        if min((shape[1] * a["up_y"] + a["pad_y0"] + a["pad_y1"] - k.shape[0]) // a["down_y"],
               (shape[2] * a["up_x"] + a["pad_x0"] + a["pad_x1"] - k.shape[1]) // a["down_x"]) < 0:
            continue  # Empty output.
        cases.append(("random %d" % count_random, shape, k, attrs))
        count_random -= 1
    return cases


def _full_attrs(attrs):
    full = dict(up_x=1, up_y=1, down_x=1, down_y=1, pad_x0=0, pad_x1=0, pad_y0=0, pad_y1=0)
    full.update(attrs)
    return full


def fused_bias_act_cases():
    """[(name, shape, axis or None, act, grad, alpha, gain, value scale, clamp or -1)]."""
    layouts = [("NCHW", [4, 8, 6, 5], 1), ("dense", [16, 32], 1), ("NHWC", [2, 5, 7, 8], 3),
               ("axis 0", [6, 4, 3], 0), ("no bias", [3, 50], None), ("large NCHW", [8, 64, 32, 32], 1)]
    cases = []
    for act in ACTIVATIONS:
        alpha, gain = DEFAULT_ALPHA.get(act, 0.0), DEFAULT_GAIN.get(act, 1.0)
        for grad in range(3):
            for layout, shape, axis in layouts:
                cases.append((layout, shape, axis, act, grad, alpha, gain, 2.0, -1.0))
            cases.append(("gain 0.7", [4, 8, 6, 5], 1, act, grad, 0.3 if act == "lrelu" else 0.0, 0.7, 2.0, -1.0))
            cases.append(("gain 0", [4, 8], 1, act, grad, alpha, 0.0, 2.0, -1.0))
            cases.append(("inputs +-100", [4, 64], 1, act, grad, alpha, gain, 100.0, -1.0))
            cases.append(("clamp 0.5", [4, 8, 6, 5], 1, act, grad, alpha, gain, 2.0, 0.5))
    return cases


# ----------------------------------------------------------------------------------------------------
# Devices: the GPU through CuPy, or the host through a shared library built from the same headers.

class CupyDevice:
    name = "GPU (CuPy)"

    def __init__(self, cupy):
        self.cp = cupy
        options = ("--std=c++14", "--use_fast_math")
        self.module = cupy.RawModule(code=gpu_source(), options=options, name_expressions=list(GPU_KERNELS.values()))
        self.kernels = {op: self.module.get_function(expr) for op, expr in GPU_KERNELS.items()}
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        self.name = "GPU %s, CuPy %s" % (name, cupy.__version__)

    def layout(self):
        out = self.cp.zeros(len(expected_layout()), dtype=np.int64)
        self.module.get_function("struct_layout")((1,), (1,), (out,))
        return [int(v) for v in out.get()]

    def run(self, op, params, arrays, out_size, launch):
        if launch == "op":
            blocks = min((out_size + OP_THREADS - 1) // OP_THREADS, OP_MAX_BLOCKS)
            shape = (max(blocks, 1), OP_THREADS)
        else:
            shape = NARROW
        device_arrays = [self.cp.asarray(a) for a in arrays]
        y = self.cp.full(out_size, np.nan, dtype=np.float32)
        self.kernels[op]((shape[0],), (shape[1],), tuple([params] + device_arrays + [y]))
        self.cp.cuda.Device().synchronize()
        return y.get()


class HostDevice:
    name = "host CPU (no GPU involved)"

    def __init__(self):
        compiler = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
        self.tmp = tempfile.mkdtemp(prefix="gpu_kernel_check_")
        src, lib = os.path.join(self.tmp, "host.cc"), os.path.join(self.tmp, "host.so")
        with open(src, "w") as f:
            f.write(host_source())
        if compiler:
            cmd = [compiler, "-O2", "-std=c++11", "-shared", "-fPIC", "-I", OPS_DIR, src, "-o", lib]
        else:
            nvcc = find_nvcc()
            if nvcc is None:
                raise RuntimeError("--host needs a C++ compiler (c++, g++, clang++) or nvcc")
            cmd = [nvcc, "-x", "cu", "-O2", "--shared", "-Xcompiler", "-fPIC", "-I", OPS_DIR, src, "-o", lib]
        run_command(cmd)
        self.lib = ctypes.CDLL(lib)

    @staticmethod
    def _pointer(a):
        return a.ctypes.data_as(ctypes.c_void_p)

    def layout(self):
        out = np.zeros(len(expected_layout()), dtype=np.int64)
        self.lib.struct_layout(self._pointer(out))
        return [int(v) for v in out]

    def run(self, op, params, arrays, out_size, launch):
        del launch  # One loop on the host.
        y = np.full(out_size, np.nan, dtype=np.float32)
        arrays = [np.ascontiguousarray(a) for a in arrays]
        getattr(self.lib, "run_" + op)(*[self._pointer(a) for a in [params] + arrays + [y]])
        return y

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def find_nvcc():
    for path in [os.path.join(os.environ.get("CUDA_HOME", ""), "bin", "nvcc"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"]:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


# ----------------------------------------------------------------------------------------------------
# Running the cases.

def check_upfirdn_2d(device, rnd, count_random, report):
    for name, shape, k, attrs in upfirdn_2d_cases(rnd, count_random):
        attrs = _full_attrs(attrs)
        x = rnd.randn(*shape).astype(np.float32)
        k32 = k.astype(np.float32)
        expected = upfirdn_2d_reference(x.astype(np.float64), k32.astype(np.float64), **attrs)
        geometry = np.zeros(1, dtype=UFD_DTYPE)
        for field, value in zip(["images", "in_h", "in_w", "channels"], shape):
            geometry[field] = value
        geometry["taps_h"], geometry["taps_w"] = k.shape
        for field, value in attrs.items():
            geometry[field] = value
        geometry["out_h"], geometry["out_w"] = expected.shape[1:3]
        for launch in ["op", "narrow"]:
            y = device.run("upfirdn_2d", geometry, [x, k32], expected.size, launch)
            report("upfirdn_2d", "%s %s k%dx%d" % (name, "x".join(map(str, shape)), k.shape[0], k.shape[1]),
                   launch, y.reshape(expected.shape), expected)


def check_fused_bias_act(device, rnd, report):
    empty = np.zeros(0, dtype=np.float32)
    for layout, shape, axis, act, grad, alpha, gain, scale, clamp in fused_bias_act_cases():
        x = (rnd.randn(*shape) * scale).astype(np.float32)
        if scale > 10:  # Half the inputs at exactly +-scale.
            x.flat[::2] = np.sign(x.flat[::2]) * scale
        bias = empty if axis is None else rnd.randn(shape[axis]).astype(np.float32)
        bias_shape = [1] * len(shape)
        if axis is not None:
            bias_shape[axis] = -1
        s = x.astype(np.float64) + (0 if axis is None else bias.astype(np.float64).reshape(bias_shape))
        step = 1 if axis is None else int(np.prod(shape[axis + 1:]))

        params = np.zeros(1, dtype=FBA_DTYPE)
        params["act"], params["alpha"], params["gain"], params["count"] = ACT_INDEX[act], alpha, gain, x.size
        params["grad"], params["clamp"] = grad, clamp
        forward = gain * activation_reference(act, 0, s, alpha)
        if clamp >= 0:
            # The derivative kernels read the clipped forward output and must zero where it was clipped.
            reached = np.abs(np.clip(forward, -clamp, clamp).astype(np.float32)) >= np.float32(clamp)
            forward = np.clip(forward, -clamp, clamp)
        if grad == 0:
            params["bias_len"], params["bias_step"] = bias.size, step
            inputs = [x, bias, empty]
            expected = forward
        else:
            # As the op's gradient does: the incoming gradient in x; for swish the forward input and its
            # bias, for the others only the forward output.
            incoming = rnd.randn(*shape).astype(np.float32)
            if act == "swish":
                ref_in, bias_in = x, bias
            else:
                ref_in, bias_in = forward.astype(np.float32), empty
            if act == "linear" and clamp < 0:
                ref_in = empty
            params["bias_len"], params["bias_step"] = bias_in.size, step
            inputs = [incoming, bias_in, ref_in]
            expected = incoming * gain * activation_reference(act, grad, s, alpha)
            if clamp >= 0:
                expected = np.where(reached, 0.0, expected)
        for launch in ["op", "narrow"]:
            y = device.run("fused_bias_act", params, inputs, x.size, launch)
            report("fused_bias_act", "%-8s grad %d %-12s alpha %.2g gain %.3g" % (act, grad, layout, alpha, gain),
                   launch, y.reshape(shape), expected)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--host", action="store_true", help="run the cases through the host compiler instead of a GPU")
    mode.add_argument("--nvcc-only", action="store_true", help="only compile the GPU source with nvcc (syntax check)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs and configurations")
    parser.add_argument("--random-configs", type=int, default=40, help="random upfirdn_2d configurations")
    parser.add_argument("--verbose", action="store_true", help="print every case, not only the failing ones")
    args = parser.parse_args()

    if args.nvcc_only:
        nvcc = find_nvcc()
        if nvcc is None:
            print("gpu_kernel_check: nvcc not found; nothing compiled.")
            return 0
        entries = nvcc_compile_only(nvcc)
        print("gpu_kernel_check: the kernel headers compile with %s (%d kernels in the PTX)." % (nvcc, entries))
        return 0

    if args.host:
        device = HostDevice()
    else:
        try:
            import cupy  # pylint: disable=import-outside-toplevel
        except ImportError:
            print("gpu_kernel_check: CuPy is not installed, so nothing ran on a GPU (pip install cupy-cuda12x or "
                  "cupy-cuda13x to match your CUDA). `--host` runs the same cases on the CPU.")
            return 0
        try:
            gpus = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # pylint: disable=broad-except  (CUDARuntimeError without a driver)
            gpus, why = 0, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        else:
            why = "no device"
        if gpus == 0:
            print("gpu_kernel_check: no CUDA GPU is visible to CuPy (%s), so nothing ran on a GPU. "
                  "`--host` runs the same cases on the CPU." % why)
            return 0
        device = CupyDevice(cupy)

    start = time.time()
    print("gpu_kernel_check on %s; kernels from %s" % (device.name, ", ".join(HEADERS)))
    layout = device.layout()
    if layout != expected_layout():
        print("FAILED: the compiled structs are laid out as %s, the script expects %s" % (layout, expected_layout()))
        return 1

    results = {}  # op -> [checks, failures, worst relative error]

    def report(op, case, launch, actual, expected):
        scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
        error = float(np.max(np.abs(actual.astype(np.float64) - expected))) if expected.size else 0.0
        ok = actual.shape == expected.shape and error <= TOLERANCE[op] * scale  # NaN fails.
        entry = results.setdefault(op, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += not ok
        entry[2] = max(entry[2], error / scale) if ok else float("inf")
        if args.verbose or not ok:
            print("  %-4s %-15s %-6s %-58s max abs error %.3g%s" % ("ok" if ok else "FAIL", op, launch, case,
                                                                  error, "" if ok else " (limit %.3g)" % (TOLERANCE[op] * scale)))

    rnd = np.random.RandomState(args.seed)
    with np.errstate(over="ignore", invalid="ignore"):
        check_upfirdn_2d(device, rnd, args.random_configs, report)
        check_fused_bias_act(device, rnd, report)
    if isinstance(device, HostDevice):
        device.close()

    failures = sum(entry[1] for entry in results.values())
    for op, (checks, failed, worst) in sorted(results.items()):
        print("%-15s %4d checks, %d failed, largest error %.3g of max(1, |expected|) (limit %.0e)"
              % (op, checks, failed, worst, TOLERANCE[op]))
    print("%s: %d checks, %d failed, %.1f s." % ("FAILED" if failures else "PASSED",
                                                 sum(e[0] for e in results.values()), failures, time.time() - start))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
