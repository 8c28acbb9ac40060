# stylegan2-tf on NVIDIA GPUs: TensorFlow 2.x from PyPI with its CUDA 12 libraries, plus the CUDA 12
# toolkit (nvcc, headers, static cudart) that dnnlib/tflib/custom_ops.py needs to build the custom ops
# at first use. Only the Python packages are in the image: docker_run.sh mounts this checkout at
# /workspace, so compiled ops (dnnlib/tflib/_cudacache) and downloads (.stylegan2-cache) persist there.
ARG BASE_IMAGE=nvidia/cuda:12.9.1-devel-ubuntu24.04
FROM ${BASE_IMAGE}

ARG TF_VERSION=2.21.0
ENV DEBIAN_FRONTEND=noninteractive \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:${PATH} \
    CUDA_HOME=/usr/local/cuda \
    TF_CPP_MIN_LOG_LEVEL=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

# requirements.txt without its tensorflow-cpu line: the GPU build tensorflow[and-cuda] replaces it.
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv "${VIRTUAL_ENV}" \
    && grep -v "^tensorflow" /tmp/requirements.txt > /tmp/requirements-gpu.txt \
    && pip install --no-cache-dir "tensorflow[and-cuda]==${TF_VERSION}" -r /tmp/requirements-gpu.txt \
    && rm /tmp/requirements.txt /tmp/requirements-gpu.txt

WORKDIR /workspace
CMD ["python", "check_ops.py"]
