#!/usr/bin/env bash
# Generation and training speed and peak GPU memory of config-e and config-f at 256x256 and 1024x1024 on one
# GPU, in one command (meant to take under 10 minutes on a 16 GB V100-class GPU; graph building included).
#
# Usage: benchmarks/gpu_benchmarks.sh [PYTHON] [extra options for both benchmarks, e.g. --bfloat16]
#   PYTHON defaults to .venv/bin/python. Run from anywhere; prints one table per config and benchmark.
# Generation: Gs.run of 8 images (batch 8), median of 5 after a warm-up. Training: the full training loop,
# minibatch 8 with 4 per step (gradient accumulation), 5 minibatches, median sec/kimg after the first.
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin="${1:-.venv/bin/python}"
shift || true

if ! "$python_bin" -c "import dnnlib.tflib as tflib, sys; sys.exit(0 if tflib.tfutil.has_gpu() else 1)"; then
    echo "gpu_benchmarks.sh: error: TensorFlow ($python_bin) sees no GPU; the CPU figures come from" \
         "benchmarks/bench_generator.py and benchmarks/bench_training.py" >&2
    exit 1
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

for config in config-e config-f; do
    echo "== generation, $config"
    "$python_bin" benchmarks/bench_generator.py --config "$config" --resolutions 256,1024 --batch 8 --repeats 5 "$@"
    echo "== training, $config"
    "$python_bin" benchmarks/bench_training.py --config "$config" --resolutions 256,1024 --minibatch 8 \
        --minibatch-gpu 4 --minibatches 5 "$@"
done
