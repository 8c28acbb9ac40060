"""bfloat16 compute: convolutions and matrix products in bfloat16, everything else in float32.

Off by default. With `set_bfloat16(True)` (or the environment variable TFLIB_BFLOAT16=1) the convolutions
and matrix products of the networks built from then on take bfloat16 copies of their float32 inputs and
weights and return float32: the variables, biases, activations, normalisation, losses and optimizer stay
float32, and oneDNN and cuDNN accumulate the products in float32. It pays on CPUs with AVX512_BF16 or AMX
(TensorFlow 2.x with oneDNN) and on GPUs with bfloat16 tensor cores; elsewhere bfloat16 is emulated and
slower. Float16 tensors (the ADA networks' GPU layers) are left as they are.
"""

import os
import sys

import tensorflow.compat.v1 as tf

ENV_VAR = "TFLIB_BFLOAT16"

_supported_cache = []  # [bool] once probed


def bfloat16_enabled() -> bool:
    return os.environ.get(ENV_VAR, "0") not in ("", "0")


def set_bfloat16(enabled: bool) -> None:
    """Turn bfloat16 compute on or off for graphs built from now on (also in child processes: it is
    kept in the environment). Raises RuntimeError with a one-line reason where it cannot run."""
    if enabled and not bfloat16_supported():
        raise RuntimeError("bfloat16: this TensorFlow build cannot run bfloat16 convolutions and their gradients "
                           "on this machine (TensorFlow %s); run without it" % tf.VERSION)
    os.environ[ENV_VAR] = "1" if enabled else "0"
    if enabled and not _runs_natively():
        print("bfloat16: this TensorFlow (%s) or CPU has no native bfloat16 kernels: expect it to be slower than "
              "float32 here" % tf.VERSION, file=sys.stderr)


def _runs_natively() -> bool:
    """TF 2.x with a GPU, or with oneDNN on a CPU with bfloat16 instructions (TF 1.15's CPU kernels emulate it:
    measured 1.7x slower than float32)."""
    from .tfutil import has_gpu  # pylint: disable=import-outside-toplevel
    return not tf.VERSION.startswith("1.") and (has_gpu() or cpu_has_native_bfloat16())


def bfloat16_supported() -> bool:
    """Can a bfloat16 convolution, matrix product and their gradients run here? Probed once."""
    if not _supported_cache:
        _supported_cache.append(_probe())
    return _supported_cache[0]


def _probe() -> bool:
    with tf.Graph().as_default():
        try:
            images = tf.ones([1, 3, 3, 2], dtype=tf.bfloat16)
            out = tf.nn.conv2d(images, tf.ones([3, 3, 2, 2], dtype=tf.bfloat16), strides=[1, 1, 1, 1],
                               padding="SAME", data_format="NHWC")
            out = tf.matmul(tf.reshape(out, [9, 2]), tf.ones([2, 2], dtype=tf.bfloat16))
            grads = tf.gradients(tf.reduce_sum(tf.cast(out, tf.float32)), [images])
            with tf.Session() as session:
                centre = session.run([out, grads])[0][4]
        except (tf.errors.OpError, ValueError, TypeError):
            return False
    return bool((centre == 36).all())  # Centre pixel: 9 pixels x 2 channels, summed over 2 channels.


def cpu_has_native_bfloat16() -> bool:
    """Does the CPU have bfloat16 instructions (AVX512_BF16 or AMX-BF16)? False where it cannot be told."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = cpuinfo.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def compute(op, x, w, **kwargs):
    """`op(x, w, **kwargs)` (a convolution or matrix product), in bfloat16 when it is on and x is float32;
    the result has x's dtype."""
    if not bfloat16_enabled() or x.dtype != tf.float32:
        return op(x, tf.cast(w, x.dtype), **kwargs)
    out = op(tf.cast(x, tf.bfloat16), tf.cast(w, tf.bfloat16), **kwargs)
    return tf.cast(out, tf.float32)
