"""custom_ops: the automatic cuda/ref choice, the build cache key, and the cached binaries."""

import os
import stat

import pytest

from dnnlib.tflib import custom_ops
from dnnlib.tflib.ops import fused_bias_act, upfirdn_2d

FBA_CU = os.path.splitext(fused_bias_act.__file__)[0] + ".cu"
UPFIRDN_CU = os.path.splitext(upfirdn_2d.__file__)[0] + ".cu"


@pytest.fixture
def fresh_choice(monkeypatch):
    """Forget earlier decisions and notices, and any STYLEGAN2_* override of the environment."""
    monkeypatch.setattr(custom_ops, "_impl_cache", {})
    monkeypatch.setattr(custom_ops, "_printed_notices", set())
    monkeypatch.delenv(custom_ops.IMPL_ENV_VAR, raising=False)
    monkeypatch.delenv(custom_ops.ARCH_ENV_VAR, raising=False)
    return monkeypatch


def test_no_gpu_means_ref_with_one_notice(fresh_choice, capsys):
    fresh_choice.setattr(custom_ops, "list_gpu_compute_capabilities", lambda: [])
    assert custom_ops.choose_impl(FBA_CU) == "ref"
    assert custom_ops.choose_impl(UPFIRDN_CU) == "ref"
    assert custom_ops.choose_impl(FBA_CU) == "ref"
    notices = capsys.readouterr().err.strip().splitlines()
    assert notices == ["StyleGAN2 custom ops: using the reference TensorFlow implementation (no GPU found)."]


def test_gpu_without_nvcc_or_with_a_failing_build_means_ref(fresh_choice, capsys):
    fresh_choice.setattr(custom_ops, "list_gpu_compute_capabilities", lambda: [(8, 0)])
    fresh_choice.setattr(custom_ops, "find_nvcc", lambda: None)
    assert custom_ops.choose_impl(FBA_CU) == "ref"
    assert "(nvcc not found)" in capsys.readouterr().err

    def failing_build(cuda_file, arch=None):
        raise RuntimeError("nvcc failed to build %s:\nerror: something broke" % cuda_file)

    fresh_choice.setattr(custom_ops, "find_nvcc", lambda: "/usr/bin/nvcc")
    fresh_choice.setattr(custom_ops, "get_plugin", failing_build)
    assert custom_ops.choose_impl(UPFIRDN_CU) == "ref"
    err = capsys.readouterr().err
    assert "the CUDA build of upfirdn_2d failed: nvcc failed to build" in err and err.count("\n") == 1


def test_gpu_with_working_build_means_cuda(fresh_choice, capsys):
    built = []
    fresh_choice.setattr(custom_ops, "list_gpu_compute_capabilities", lambda: [(9, 0)])
    fresh_choice.setattr(custom_ops, "find_nvcc", lambda: "/usr/bin/nvcc")
    fresh_choice.setattr(custom_ops, "get_plugin", lambda cuda_file, arch=None: built.append(cuda_file))
    assert custom_ops.choose_impl(FBA_CU) == "cuda"
    assert built == [os.path.abspath(FBA_CU)] and capsys.readouterr().err == ""


def test_environment_overrides(fresh_choice, capsys):
    fresh_choice.setattr(custom_ops, "list_gpu_compute_capabilities", lambda: [(9, 0)])
    fresh_choice.setenv(custom_ops.IMPL_ENV_VAR, "ref")
    assert custom_ops.choose_impl(FBA_CU) == "ref"
    assert "(STYLEGAN2_OPS_IMPL=ref)" in capsys.readouterr().err
    fresh_choice.setattr(custom_ops, "_impl_cache", {})
    fresh_choice.setenv(custom_ops.IMPL_ENV_VAR, "fast")
    with pytest.raises(ValueError, match="STYLEGAN2_OPS_IMPL must be"):
        custom_ops.choose_impl(FBA_CU)

    assert custom_ops.get_cuda_arch() == "sm_90"
    fresh_choice.setattr(custom_ops, "list_gpu_compute_capabilities", lambda: [])
    assert custom_ops.get_cuda_arch() == "sm_80"
    fresh_choice.setenv(custom_ops.ARCH_ENV_VAR, "sm_86")
    assert custom_ops.get_cuda_arch() == "sm_86"


def test_cache_key_changes_with_source_options_and_tag(tmp_path, monkeypatch):
    monkeypatch.setattr(custom_ops, "do_not_hash_included_headers", True)  # No nvcc run needed.
    monkeypatch.setattr(custom_ops, "cuda_cache_path", str(tmp_path / "cache"))
    source = tmp_path / "my_op.cu"
    source.write_text("// version 1\n")
    options = custom_ops._nvcc_options("sm_80")
    first = custom_ops.binary_path("nvcc", str(source), "sm_80", options)
    assert os.path.dirname(first) == str(tmp_path / "cache")
    assert os.path.basename(first).startswith("my_op_") and first.endswith(".so")
    assert custom_ops.binary_path("nvcc", str(source), "sm_80", options) == first
    assert any(flag.startswith("-I") for flag in options) and "-DGOOGLE_CUDA=1" in options
    assert custom_ops.binary_path("nvcc", str(source), "sm_90", custom_ops._nvcc_options("sm_90")) != first
    monkeypatch.setattr(custom_ops, "cuda_cache_version_tag", "v2")
    assert custom_ops.binary_path("nvcc", str(source), "sm_80", options) != first
    monkeypatch.setattr(custom_ops, "cuda_cache_version_tag", "v1")
    source.write_text("// version 2\n")
    assert custom_ops.binary_path("nvcc", str(source), "sm_80", options) != first


def test_cache_key_covers_the_kernel_headers_beside_the_source(tmp_path, monkeypatch):
    monkeypatch.setattr(custom_ops, "do_not_hash_included_headers", True)  # The header counts even then.
    monkeypatch.setattr(custom_ops, "cuda_cache_path", str(tmp_path / "cache"))
    source, header = tmp_path / "my_op.cu", tmp_path / "my_op_kernels.h"
    source.write_text('#include <vector>\n#include "my_op_kernels.h"\n#include "absent.h"\n')
    header.write_text("// kernels, version 1\n")
    assert custom_ops.local_headers(str(source)) == [str(header)]
    options = custom_ops._nvcc_options("sm_80")
    first = custom_ops.binary_path("nvcc", str(source), "sm_80", options)
    header.write_text("// kernels, version 2\n")
    assert custom_ops.binary_path("nvcc", str(source), "sm_80", options) != first


def test_missing_nvcc_or_source_raises_clearly(monkeypatch, tmp_path):
    monkeypatch.setattr(custom_ops, "find_nvcc", lambda: None)
    with pytest.raises(RuntimeError, match="nvcc not found"):
        custom_ops.get_plugin(str(tmp_path / "absent.cu"))
    monkeypatch.setattr(custom_ops, "find_nvcc", lambda: "/usr/bin/true")
    with pytest.raises(RuntimeError, match="CUDA source not found: .*absent.cu"):
        custom_ops.get_plugin(str(tmp_path / "absent.cu"))


@pytest.mark.skipif(custom_ops.find_nvcc() is None, reason="nvcc not installed")
def test_both_plugins_build_load_and_are_cached(monkeypatch):
    monkeypatch.delenv(custom_ops.ARCH_ENV_VAR, raising=False)
    for cuda_file, op_name in [(FBA_CU, "fused_bias_act"), (UPFIRDN_CU, "up_fir_dn2d")]:
        plugin = custom_ops.get_plugin(cuda_file)
        assert hasattr(plugin, op_name)
        assert custom_ops.get_plugin(cuda_file) is plugin  # In-process cache.
    binaries = [name for name in os.listdir(custom_ops.cuda_cache_path) if name.endswith(".so")]
    assert any(name.startswith("fused_bias_act_") for name in binaries)
    assert any(name.startswith("upfirdn_2d_") for name in binaries)
    assert not [name for name in os.listdir(custom_ops.cuda_cache_path) if name.startswith(".tmp-")]
    for name in binaries:
        mode = os.stat(os.path.join(custom_ops.cuda_cache_path, name)).st_mode
        assert mode & stat.S_IRGRP and mode & stat.S_IROTH
