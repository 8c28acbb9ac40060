// FusedBiasAct: bias add, activation and gain in one pass, plus its first and second derivatives.
//
// Inputs x, b, ref (all of type T), output y (shape of x). Attributes: grad (0, 1, 2), axis, act
// (1..9, the `cuda_idx` of `activation_funcs` in fused_bias_act.py), alpha, gain.
//
//   grad=0: y = gain * f(x + b)                     b broadcast along `axis`; b may be empty.
//   grad=1: y = x * gain * f'(s)                    x is an incoming gradient, s the pre-activation.
//   grad=2: y = x * gain * f''(s)
//
// For grad 1 and 2 the pre-activation is given by `ref`: for swish (the only activation whose ref is
// 'x') s = ref + b, with b the bias of the forward pass or empty; for every other activation ref is
// the forward output y and the derivatives are written in terms of r = y / gain.
//
// The per-element math is written once (__host__ __device__); the CPU kernel loops over it and the
// GPU kernel runs it in a grid-stride loop.

#define EIGEN_USE_THREADS
#if GOOGLE_CUDA
#define EIGEN_USE_GPU
#endif

#include <cmath>
#include <cstdint>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

#if GOOGLE_CUDA
#include <cuda_runtime.h>
#endif

#ifdef __CUDACC__
#define FBA_FUNC __host__ __device__ inline
#else
#define FBA_FUNC inline
#endif

using namespace tensorflow;

//------------------------------------------------------------------------------------------------
// Per-element math, in float for both float and half.

enum {
    ACT_LINEAR = 1, ACT_RELU = 2, ACT_LRELU = 3, ACT_TANH = 4, ACT_SIGMOID = 5,
    ACT_ELU = 6, ACT_SELU = 7, ACT_SOFTPLUS = 8, ACT_SWISH = 9,
};

constexpr float kSeluScale = 1.0507009873554804934193349852946f;
constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kExpLimit = 80.0f;  // exp(80) ~ 5.5e34 still fits in float.

struct FusedBiasActParams {
    int grad;
    int act;
    float alpha;
    float gain;
    int64_t num_elements;
    int64_t bias_size;   // 0 when there is no bias.
    int64_t bias_stride; // Product of the x dimensions after `axis`.
};

FBA_FUNC float clamped_exp(float v) { return expf(fminf(fmaxf(v, -kExpLimit), kExpLimit)); }
FBA_FUNC float clamped_expm1(float v) { return expm1f(fminf(fmaxf(v, -kExpLimit), kExpLimit)); }

FBA_FUNC float stable_sigmoid(float s)
{
    float e = clamped_exp(-fabsf(s)); // In (0, 1]: never overflows.
    return (s >= 0.0f) ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

FBA_FUNC float activation(int act, float s, float alpha)
{
    switch (act) {
    case ACT_LINEAR:   return s;
    case ACT_RELU:     return (s > 0.0f) ? s : 0.0f;
    case ACT_LRELU:    return (s > 0.0f) ? s : s * alpha;
    case ACT_TANH:     return tanhf(s);
    case ACT_SIGMOID:  return stable_sigmoid(s);
    case ACT_ELU:      return (s > 0.0f) ? s : clamped_expm1(s);
    case ACT_SELU:     return (s > 0.0f) ? kSeluScale * s : kSeluScale * kSeluAlpha * clamped_expm1(s);
    case ACT_SOFTPLUS: return fmaxf(s, 0.0f) + log1pf(clamped_exp(-fabsf(s)));
    case ACT_SWISH:    return s * stable_sigmoid(s);
    }
    return 0.0f;
}

// f'(s); `r` is s for swish and y / gain for the others.
FBA_FUNC float first_derivative(int act, float r, float alpha)
{
    switch (act) {
    case ACT_LINEAR:   return 1.0f;
    case ACT_RELU:     return (r > 0.0f) ? 1.0f : 0.0f;
    case ACT_LRELU:    return (r > 0.0f) ? 1.0f : alpha;
    case ACT_TANH:     return 1.0f - r * r;
    case ACT_SIGMOID:  return r * (1.0f - r);
    case ACT_ELU:      return (r < 0.0f) ? r + 1.0f : 1.0f;
    case ACT_SELU:     return (r < 0.0f) ? r + kSeluScale * kSeluAlpha : kSeluScale;
    case ACT_SOFTPLUS: return -clamped_expm1(-r); // sigmoid(s) = 1 - exp(-softplus(s)).
    case ACT_SWISH: {
        float sig = stable_sigmoid(r);
        return sig * (1.0f + r * (1.0f - sig));
    }
    }
    return 0.0f;
}

// f''(s); same convention for `r`.
FBA_FUNC float second_derivative(int act, float r)
{
    switch (act) {
    case ACT_LINEAR:
    case ACT_RELU:
    case ACT_LRELU:    return 0.0f;
    case ACT_TANH:     return -2.0f * r * (1.0f - r * r);
    case ACT_SIGMOID:  return r * (1.0f - r) * (1.0f - 2.0f * r);
    case ACT_ELU:      return (r < 0.0f) ? r + 1.0f : 0.0f;
    case ACT_SELU:     return (r < 0.0f) ? r + kSeluScale * kSeluAlpha : 0.0f;
    case ACT_SOFTPLUS: {
        float e = clamped_exp(-r);
        return (1.0f - e) * e;
    }
    case ACT_SWISH: {
        float sig = stable_sigmoid(r);
        return sig * (1.0f - sig) * (2.0f + r * (1.0f - 2.0f * sig));
    }
    }
    return 0.0f;
}

template <typename T>
FBA_FUNC void fused_bias_act_element(const FusedBiasActParams& p, const T* x, const T* b, const T* ref,
                                     T* y, int64_t i)
{
    float bias = (p.bias_size > 0) ? static_cast<float>(b[(i / p.bias_stride) % p.bias_size]) : 0.0f;
    float v = static_cast<float>(x[i]);
    float out;
    if (p.grad == 0) {
        out = p.gain * activation(p.act, v + bias, p.alpha);
    } else if (p.gain == 0.0f) {
        out = 0.0f; // y / gain is undefined, but every derivative carries a factor gain.
    } else {
        float r = (p.act == ACT_LINEAR) ? 0.0f : static_cast<float>(ref[i]);
        r = (p.act == ACT_SWISH) ? r + bias : r / p.gain;
        float d = (p.grad == 1) ? first_derivative(p.act, r, p.alpha) : second_derivative(p.act, r);
        out = v * p.gain * d;
    }
    y[i] = static_cast<T>(out);
}

//------------------------------------------------------------------------------------------------
// Launchers.

template <typename Device, typename T>
struct FusedBiasActLauncher;

typedef Eigen::ThreadPoolDevice CPUDevice;

template <typename T>
struct FusedBiasActLauncher<CPUDevice, T> {
    static void run(OpKernelContext* context, const FusedBiasActParams& p, const T* x, const T* b,
                    const T* ref, T* y)
    {
        for (int64_t i = 0; i < p.num_elements; i++)
            fused_bias_act_element<T>(p, x, b, ref, y, i);
    }
};

#if GOOGLE_CUDA
typedef Eigen::GpuDevice GPUDevice;

template <typename T>
__global__ void fused_bias_act_kernel(FusedBiasActParams p, const T* x, const T* b, const T* ref, T* y)
{
    int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < p.num_elements; i += step)
        fused_bias_act_element<T>(p, x, b, ref, y, i);
}

template <typename T>
struct FusedBiasActLauncher<GPUDevice, T> {
    static void run(OpKernelContext* context, const FusedBiasActParams& p, const T* x, const T* b,
                    const T* ref, T* y)
    {
        const int block_size = 256;
        int64_t num_blocks = (p.num_elements + block_size - 1) / block_size;
        if (num_blocks > 65536) num_blocks = 65536; // Grid-stride loop covers the rest.
        cudaStream_t stream = context->eigen_device<GPUDevice>().stream();
        fused_bias_act_kernel<T><<<(int)num_blocks, block_size, 0, stream>>>(p, x, b, ref, y);
        cudaError_t err = cudaGetLastError();
        OP_REQUIRES(context, err == cudaSuccess,
                    errors::Internal("FusedBiasAct: CUDA kernel launch failed: ", cudaGetErrorString(err)));
    }
};
#endif

//------------------------------------------------------------------------------------------------
// Op kernel: checks shapes and attributes, then runs the launcher of the device.

template <typename Device, typename T>
class FusedBiasActOp : public OpKernel {
public:
    explicit FusedBiasActOp(OpKernelConstruction* context) : OpKernel(context)
    {
        OP_REQUIRES_OK(context, context->GetAttr("grad", &m_grad));
        OP_REQUIRES_OK(context, context->GetAttr("axis", &m_axis));
        OP_REQUIRES_OK(context, context->GetAttr("act", &m_act));
        OP_REQUIRES_OK(context, context->GetAttr("alpha", &m_alpha));
        OP_REQUIRES_OK(context, context->GetAttr("gain", &m_gain));
        OP_REQUIRES(context, m_grad >= 0 && m_grad <= 2,
                    errors::InvalidArgument("FusedBiasAct: grad must be 0, 1 or 2, got ", m_grad));
        OP_REQUIRES(context, m_act >= ACT_LINEAR && m_act <= ACT_SWISH,
                    errors::InvalidArgument("FusedBiasAct: act must be in [1, 9], got ", m_act));
    }

    void Compute(OpKernelContext* context) override
    {
        const Tensor& x = context->input(0);
        const Tensor& b = context->input(1);
        const Tensor& ref = context->input(2);

        OP_REQUIRES(context, b.dims() == 1,
                    errors::InvalidArgument("FusedBiasAct: b must be 1-D, got shape ", b.shape().DebugString()));
        int64_t bias_size = b.NumElements();
        int64_t bias_stride = 1;
        if (bias_size > 0) {
            OP_REQUIRES(context, m_axis >= 0 && m_axis < x.dims(),
                        errors::InvalidArgument("FusedBiasAct: axis ", m_axis, " out of range for x of rank ", x.dims()));
            OP_REQUIRES(context, x.dim_size(m_axis) == bias_size,
                        errors::InvalidArgument("FusedBiasAct: b has ", bias_size, " elements, x.shape[axis] is ",
                                                x.dim_size(m_axis)));
            for (int i = m_axis + 1; i < x.dims(); i++)
                bias_stride *= x.dim_size(i);
        }
        bool needs_ref = (m_grad > 0 && m_act != ACT_LINEAR);
        OP_REQUIRES(context, ref.NumElements() == 0 || ref.shape() == x.shape(),
                    errors::InvalidArgument("FusedBiasAct: ref must be empty or shaped like x"));
        OP_REQUIRES(context, !needs_ref || ref.shape() == x.shape(),
                    errors::InvalidArgument("FusedBiasAct: grad > 0 needs ref shaped like x, got ",
                                            ref.shape().DebugString()));

        Tensor* y = nullptr;
        OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &y));
        if (x.NumElements() == 0 || bias_stride == 0)
            return;

        FusedBiasActParams p;
        p.grad = m_grad;
        p.act = m_act;
        p.alpha = m_alpha;
        p.gain = m_gain;
        p.num_elements = x.NumElements();
        p.bias_size = bias_size;
        p.bias_stride = bias_stride;
        FusedBiasActLauncher<Device, T>::run(context, p, x.flat<T>().data(), b.flat<T>().data(),
                                             ref.flat<T>().data(), y->flat<T>().data());
    }

private:
    int m_grad;
    int m_axis;
    int m_act;
    float m_alpha;
    float m_gain;
};

//------------------------------------------------------------------------------------------------

REGISTER_OP("FusedBiasAct")
    .Input("x: T")
    .Input("b: T")
    .Input("ref: T")
    .Output("y: T")
    .Attr("T: {float, half}")
    .Attr("grad: int = 0")
    .Attr("axis: int = 1")
    .Attr("act: int = 0")
    .Attr("alpha: float = 0.0")
    .Attr("gain: float = 1.0")
    .SetShapeFn([](::tensorflow::shape_inference::InferenceContext* c) {
        c->set_output(0, c->input(0));
        return Status();
    });

REGISTER_KERNEL_BUILDER(Name("FusedBiasAct").Device(DEVICE_CPU).TypeConstraint<float>("T"),
                        FusedBiasActOp<CPUDevice, float>);
REGISTER_KERNEL_BUILDER(Name("FusedBiasAct").Device(DEVICE_CPU).TypeConstraint<Eigen::half>("T"),
                        FusedBiasActOp<CPUDevice, Eigen::half>);
#if GOOGLE_CUDA
REGISTER_KERNEL_BUILDER(Name("FusedBiasAct").Device(DEVICE_GPU).TypeConstraint<float>("T"),
                        FusedBiasActOp<GPUDevice, float>);
REGISTER_KERNEL_BUILDER(Name("FusedBiasAct").Device(DEVICE_GPU).TypeConstraint<Eigen::half>("T"),
                        FusedBiasActOp<GPUDevice, Eigen::half>);
#endif
