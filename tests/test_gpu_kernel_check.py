"""benchmarks/gpu_kernel_check.py: its answers without CuPy or GPU, the nvcc compile of the kernel
headers, and its host mode (the same cases through the headers' CPU loops)."""

import importlib.util
import os
import re
import shutil
import sys
import types

import pytest

from dnnlib.tflib import custom_ops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def script(monkeypatch):
    """The script as a module, and a function that runs its main() with the given arguments."""
    spec = importlib.util.spec_from_file_location("gpu_kernel_check", os.path.join(ROOT, "benchmarks", "gpu_kernel_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["gpu_kernel_check.py"] + list(args))
        return module.main()
    module.run = run
    return module


def test_without_cupy_it_says_so_and_exits_0(script, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError.
    assert script.run() == 0
    assert "CuPy is not installed, so nothing ran on a GPU" in capsys.readouterr().out


def test_without_gpu_it_says_so_and_exits_0(script, monkeypatch, capsys):
    def no_driver():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_driver))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert script.run() == 0
    out = capsys.readouterr().out
    assert "no CUDA GPU is visible to CuPy (cudaErrorNoDevice" in out and "nothing ran on a GPU" in out


def test_headers_are_free_of_tensorflow(script):
    for name in script.HEADERS:
        with open(os.path.join(script.OPS_DIR, name)) as f:
            includes = re.findall(r'^\s*#\s*include\s*[<"]([^>"]+)', f.read(), re.MULTILINE)
        assert not [i for i in includes if "tensorflow" in i or "Eigen" in i], (name, includes)
    for op in ["fused_bias_act", "upfirdn_2d"]:
        cu_file = os.path.join(script.OPS_DIR, op + ".cu")
        assert custom_ops.local_headers(cu_file) == [os.path.join(script.OPS_DIR, op + "_kernels.h")]


@pytest.mark.skipif(custom_ops.find_nvcc() is None, reason="nvcc not installed")
def test_headers_compile_with_nvcc(script, capsys):
    assert script.run("--nvcc-only") == 0
    assert "the kernel headers compile with" in capsys.readouterr().out
    assert script.nvcc_compile_only(custom_ops.find_nvcc()) == 5  # 2 ops x (float, half) + the layout probe.


@pytest.mark.skipif(not (shutil.which("c++") or shutil.which("g++") or custom_ops.find_nvcc()),
                    reason="no C++ compiler")
def test_host_mode_runs_every_case_and_passes(script, capsys):
    assert script.run("--host", "--random-configs", "3") == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "0 failed" in out
    checks = {op: int(n) for op, n in re.findall(r"^(\w+)\s+(\d+) checks", out, re.MULTILINE)}
    assert checks["fused_bias_act"] == 2 * len(script.fused_bias_act_cases())
    assert checks["upfirdn_2d"] == 2 * (len(script.upfirdn_2d_cases(script.np.random.RandomState(0), 0)) + 3)


def test_numpy_definitions_against_finite_differences(script):
    np = script.np
    s = np.linspace(-4, 4, 41) + 0.013
    h = 1e-5
    for act in script.ACTIVATIONS:
        f = lambda v, order=0: script.activation_reference(act, order, v, 0.2)  # noqa: E731
        np.testing.assert_allclose(f(s, 1), (f(s + h) - f(s - h)) / (2 * h), atol=1e-6, err_msg=act)
        np.testing.assert_allclose(f(s, 2), (f(s + h, 1) - f(s - h, 1)) / (2 * h), atol=1e-5, err_msg=act)
