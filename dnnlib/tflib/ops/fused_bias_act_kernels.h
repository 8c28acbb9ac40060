// fused_bias_act_kernels.h: the arithmetic of the FusedBiasAct op, with no TensorFlow in sight.
//
// fused_bias_act.cu wraps it into a TensorFlow op (CPU and GPU kernels); the GPU check in
// benchmarks/gpu_kernel_check.py compiles it on its own with CuPy. A host compiler alone builds
// it too (no CUDA): then only the CPU loop exists.
//
// One element i of the output, with s = x[i] + bias (bias optional, indexed along one axis):
//
//     grad 0:  y = gain * f(s)
//     grad 1:  y = x[i] * gain * f'(s)      here x is an incoming gradient
//     grad 2:  y = x[i] * gain * f''(s)
//
// With clamp >= 0 the forward output is clipped to [-clamp, clamp] and both derivatives are 0 where
// the forward output reached the clamp (|y| >= clamp); clamp < 0 turns clipping off.
//
// The derivative passes do not get s itself. Swish gets it back as ref[i] + bias (ref = the
// forward input); the other activations get ref = the forward output, and express f' and f''
// through u = ref[i] / gain = f(s). Activation numbers are the `cuda_idx` of fused_bias_act.py.

#pragma once

#if !defined(__CUDACC_RTC__)
#include <cmath>
#endif

#if defined(__CUDACC__)
#define FBA_FN __host__ __device__ inline
#else
#define FBA_FN inline
#endif

namespace fba {

enum Activation { kLinear = 1, kRelu, kLrelu, kTanh, kSigmoid, kElu, kSelu, kSoftplus, kSwish };

// Everything a launch needs besides the pointers. Five 4-byte fields, then three 8-byte ones (the
// compiler pads after `clamp`; the GPU check measures the layout and lays the same bytes out with NumPy).
struct Params {
    int grad;             // 0, 1 or 2: which of the three formulas above.
    int act;              // An Activation.
    float alpha;          // lrelu's slope below zero.
    float gain;
    float clamp;          // Output range [-clamp, clamp]; negative: no clipping.
    long long count;      // Elements of x (and of y).
    long long bias_len;   // Elements of the bias; 0 = no bias.
    long long bias_step;  // Distance in x between neighbouring bias entries.
};

// exp() arguments are kept within +-80, where float neither overflows nor flushes to zero badly.
FBA_FN float bounded(float v) { return fminf(fmaxf(v, -80.0f), 80.0f); }

// Logistic function, written so that exp() only ever sees a non-positive argument.
FBA_FN float logistic(float s)
{
    const float t = expf(bounded(-fabsf(s)));  // In (0, 1].
    return ((s >= 0.0f) ? 1.0f : t) / (1.0f + t);
}

//------------------------------------------------------------------------------------------------
// The activations by family. `order` is 0 (value, v = s), 1 or 2 (derivatives, v = u = f(s),
// except swish, where v = s).

// tanh: with u = tanh(s), tanh' = 1 - u^2 and tanh'' = -2u(1 - u^2).
FBA_FN float tanh_family(int order, float v)
{
    if (order == 0)
        return tanhf(v);
    const float slope = 1.0f - v * v;
    return (order == 1) ? slope : -2.0f * v * slope;
}

// sigmoid: with u = sigmoid(s), sigmoid' = u(1 - u) and sigmoid'' = u(1 - u)(1 - 2u).
FBA_FN float sigmoid_family(int order, float v)
{
    if (order == 0)
        return logistic(v);
    const float slope = v * (1.0f - v);
    return (order == 1) ? slope : slope * (1.0f - 2.0f * v);
}

// elu and selu share a shape: `above` * s for s > 0, `below` * (exp(s) - 1) otherwise. In terms of
// u = f(s), the derivatives below zero are u + below (both orders); above zero `above`, then 0.
FBA_FN float exp_linear_family(int order, float v, float above, float below)
{
    if (order == 0)
        return (v > 0.0f) ? above * v : below * expm1f(bounded(v));
    if (v < 0.0f)
        return v + below;
    return (order == 1) ? above : 0.0f;
}

// softplus = log(1 + exp(s)). Its derivative is sigmoid(s) = 1 - exp(-u); with e = exp(-u) the
// second derivative is e(1 - e).
FBA_FN float softplus_family(int order, float v)
{
    if (order == 0)
        return fmaxf(v, 0.0f) + log1pf(expf(bounded(-fabsf(v))));
    if (order == 1)
        return -expm1f(bounded(-v));
    const float e = expf(bounded(-v));
    return (1.0f - e) * e;
}

// swish = s * sigmoid(s), differentiated directly in s (v = s for every order).
FBA_FN float swish_family(int order, float v)
{
    const float g = logistic(v);
    if (order == 0)
        return v * g;
    if (order == 1)
        return g * (1.0f + v * (1.0f - g));
    return g * (1.0f - g) * (2.0f + v * (1.0f - 2.0f * g));
}

// relu and lrelu: the sign test reads the same on s and on u = f(s).
FBA_FN float ramp_family(int order, float v, bool leaky, float alpha)
{
    if (order == 2)
        return 0.0f;
    if (v > 0.0f)
        return (order == 0) ? v : 1.0f;
    if (!leaky)
        return 0.0f;
    return (order == 0) ? v * alpha : alpha;
}

FBA_FN float activation_term(int act, int order, float v, float alpha)
{
    const float selu_lambda = 1.0507009873554804934193349852946f;
    const float selu_alpha = 1.6732632423543772848170429916717f;
    switch (act) {
    case kLinear:   return (order == 0) ? v : (order == 1) ? 1.0f : 0.0f;
    case kRelu:     return ramp_family(order, v, false, alpha);
    case kLrelu:    return ramp_family(order, v, true, alpha);
    case kTanh:     return tanh_family(order, v);
    case kSigmoid:  return sigmoid_family(order, v);
    case kElu:      return exp_linear_family(order, v, 1.0f, 1.0f);
    case kSelu:     return exp_linear_family(order, v, selu_lambda, selu_lambda * selu_alpha);
    case kSoftplus: return softplus_family(order, v);
    case kSwish:    return swish_family(order, v);
    default:        return 0.0f;
    }
}

//------------------------------------------------------------------------------------------------
// One output element, computed in float whatever T is (float, Eigen::half or __half).

// Did the forward output of element i reach the clamp? `ref` is the forward output, except for
// swish, where it is the forward input (then the output is recomputed from it).
template <typename T>
FBA_FN bool clamped(const Params& p, const T* ref, float bias, long long i)
{
    if (p.clamp < 0.0f)
        return false;
    float y = (float)ref[i];
    if (p.act == kSwish)
        y = p.gain * activation_term(kSwish, 0, y + bias, p.alpha);
    return fabsf(y) >= p.clamp;
}

template <typename T>
FBA_FN float output_element(const Params& p, const T* x, const T* b, const T* ref, long long i)
{
    const float bias = (p.bias_len > 0) ? (float)b[(i / p.bias_step) % p.bias_len] : 0.0f;
    const float xi = (float)x[i];
    if (p.grad == 0) {
        const float y = p.gain * activation_term(p.act, 0, xi + bias, p.alpha);
        return (p.clamp < 0.0f) ? y : fminf(fmaxf(y, -p.clamp), p.clamp);
    }
    if (p.gain == 0.0f || clamped(p, ref, bias, i))
        return 0.0f;  // Every derivative is a multiple of gain (u = ref / gain would be 0/0), or clipped.

    float v = 0.0f;  // linear reads no ref (it may be empty when nothing is clamped).
    if (p.act == kSwish)
        v = (float)ref[i] + bias;
    else if (p.act != kLinear)
        v = (float)ref[i] / p.gain;
    return xi * p.gain * activation_term(p.act, p.grad, v, p.alpha);
}

#if !defined(__CUDACC_RTC__)
// The CPU version: a plain loop over the elements.
template <typename T>
void run_on_host(const Params& p, const T* x, const T* b, const T* ref, T* y)
{
    for (long long i = 0; i < p.count; ++i)
        y[i] = static_cast<T>(output_element(p, x, b, ref, i));
}
#endif

#if defined(__CUDACC__)
// The GPU version: one thread per element, each thread striding by the grid size when the grid is
// smaller than the tensor.
template <typename T>
__global__ void fused_bias_act_kernel(Params p, const T* x, const T* b, const T* ref, T* y)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
        y[i] = static_cast<T>(output_element(p, x, b, ref, i));
}
#endif

}  // namespace fba
