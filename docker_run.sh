#!/usr/bin/env bash
# Run a command in the stylegan2-tf image: all GPUs, your user id, this checkout at /workspace (code,
# results/, compiled ops in dnnlib/tflib/_cudacache/, downloads in .stylegan2-cache/).
#
#   ./docker_run.sh python run_generator.py generate-images --network=gdrive:networks/stylegan2-ffhq-config-f.pkl --seeds=6600-6625
#   DATA_DIR=~/datasets ./docker_run.sh python run_training.py --data-dir=/data --dataset=ffhq --config=config-f
#
# Environment: IMAGE (default stylegan2-tf), GPUS (the --gpus value, default all), DATA_DIR (a host folder
# mounted read-only at /data), STYLEGAN2_CUDA_ARCH and STYLEGAN2_OPS_IMPL (passed on when set).
# Host networking lets the workers of a multi-node run reach each other's --worker-hosts ports.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]   (e.g. $0 python check_ops.py)" >&2
    exit 2
fi

repo_dir="$(cd "$(dirname "$0")" && pwd)"
args=(--rm --gpus "${GPUS:-all}" --network host
      --user "$(id -u):$(id -g)"
      -v "${repo_dir}:/workspace" -w /workspace
      -e HOME=/tmp
      -e STYLEGAN2_CACHE_DIR=/workspace/.stylegan2-cache)
if [ -n "${DATA_DIR:-}" ]; then
    args+=(-v "$(cd "${DATA_DIR}" && pwd):/data:ro")
fi
for name in STYLEGAN2_CUDA_ARCH STYLEGAN2_OPS_IMPL TF_CONFIG; do
    if [ -n "${!name:-}" ]; then
        args+=(-e "${name}=${!name}")
    fi
done
if [ -t 0 ] && [ -t 1 ]; then
    args+=(-it)
fi

exec docker run "${args[@]}" "${IMAGE:-stylegan2-tf}" "$@"
