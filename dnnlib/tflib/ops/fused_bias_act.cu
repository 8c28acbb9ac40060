// TensorFlow op FusedBiasAct: bias, activation and gain in one pass, and its two derivatives.
//
// The arithmetic is in fused_bias_act_kernels.h; this file only checks the tensors, fills
// fba::Params and hands it to the CPU loop or the GPU kernel of that header.
//
//   inputs   x, b, ref (type T: float or half); b is 1-D (may be empty), ref is empty or shaped like x
//   output   y, shaped like x
//   attrs    grad (0, 1, 2), axis (the axis of x that b runs along), act (1..9), alpha, gain,
//            clamp (clip y to [-clamp, clamp]; -1 = off)

#define EIGEN_USE_THREADS
#if GOOGLE_CUDA
#define EIGEN_USE_GPU
#include <cuda_runtime.h>
#endif

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

#include "fused_bias_act_kernels.h"

namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
namespace errors = ::tensorflow::errors;

typedef Eigen::ThreadPoolDevice CpuDevice;

// Runs the header's code on the device the kernel was registered for.
template <typename Device, typename T>
struct Runner {
    static Status run(OpKernelContext*, const fba::Params& p, const T* x, const T* b, const T* ref, T* y)
    {
        fba::run_on_host(p, x, b, ref, y);
        return Status();
    }
};

#if GOOGLE_CUDA
typedef Eigen::GpuDevice GpuDevice;

template <typename T>
struct Runner<GpuDevice, T> {
    static Status run(OpKernelContext* context, const fba::Params& p, const T* x, const T* b, const T* ref, T* y)
    {
        const int threads = 256;
        const long long wanted = (p.count + threads - 1) / threads;
        const int blocks = (int)(wanted < 65536 ? wanted : 65536);  // The kernel strides over the rest.
        cudaStream_t stream = context->eigen_device<GpuDevice>().stream();
        fba::fused_bias_act_kernel<T><<<blocks, threads, 0, stream>>>(p, x, b, ref, y);
        const cudaError_t launched = cudaGetLastError();
        if (launched != cudaSuccess)
            return errors::Internal("FusedBiasAct: kernel launch failed: ", cudaGetErrorString(launched));
        return Status();
    }
};
#endif

// Checks the inputs against the attributes and fills everything of `p` but grad/act/alpha/gain.
Status describe_inputs(const Tensor& x, const Tensor& b, const Tensor& ref, int axis, bool reads_ref,
                       fba::Params* p)
{
    if (b.dims() != 1)
        return errors::InvalidArgument("FusedBiasAct: b must be 1-D, got shape ", b.shape().DebugString());
    p->count = x.NumElements();
    p->bias_len = b.NumElements();
    p->bias_step = 1;
    if (p->bias_len > 0) {
        if (axis < 0 || axis >= x.dims())
            return errors::InvalidArgument("FusedBiasAct: axis ", axis, " out of range for x of rank ", x.dims());
        if (x.dim_size(axis) != p->bias_len)
            return errors::InvalidArgument("FusedBiasAct: b has ", p->bias_len, " elements, x.shape[axis] is ",
                                           x.dim_size(axis));
        for (int d = x.dims() - 1; d > axis; --d)
            p->bias_step *= x.dim_size(d);
    }
    const bool ref_like_x = (ref.shape() == x.shape());
    if (ref.NumElements() != 0 && !ref_like_x)
        return errors::InvalidArgument("FusedBiasAct: ref must be empty or shaped like x");
    if (reads_ref && !ref_like_x)
        return errors::InvalidArgument("FusedBiasAct: grad > 0 needs ref shaped like x, got ",
                                       ref.shape().DebugString());
    return Status();
}

template <typename Device, typename T>
class FusedBiasActOp : public OpKernel {
public:
    explicit FusedBiasActOp(OpKernelConstruction* context) : OpKernel(context)
    {
        OP_REQUIRES_OK(context, context->GetAttr("axis", &axis_));
        OP_REQUIRES_OK(context, context->GetAttr("grad", &attrs_.grad));
        OP_REQUIRES_OK(context, context->GetAttr("act", &attrs_.act));
        OP_REQUIRES_OK(context, context->GetAttr("alpha", &attrs_.alpha));
        OP_REQUIRES_OK(context, context->GetAttr("gain", &attrs_.gain));
        OP_REQUIRES_OK(context, context->GetAttr("clamp", &attrs_.clamp));
        OP_REQUIRES(context, 0 <= attrs_.grad && attrs_.grad <= 2,
                    errors::InvalidArgument("FusedBiasAct: grad must be 0, 1 or 2, got ", attrs_.grad));
        OP_REQUIRES(context, fba::kLinear <= attrs_.act && attrs_.act <= fba::kSwish,
                    errors::InvalidArgument("FusedBiasAct: act must be in [1, 9], got ", attrs_.act));
    }

    void Compute(OpKernelContext* context) override
    {
        const Tensor& x = context->input(0);
        const Tensor& b = context->input(1);
        const Tensor& ref = context->input(2);
        fba::Params p = attrs_;
        const bool reads_ref = attrs_.grad > 0 && (attrs_.act != fba::kLinear || attrs_.clamp >= 0.0f);
        OP_REQUIRES_OK(context, describe_inputs(x, b, ref, axis_, reads_ref, &p));

        Tensor* y = nullptr;
        OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &y));
        if (p.count == 0 || p.bias_step == 0)
            return;
        OP_REQUIRES_OK(context, (Runner<Device, T>::run(context, p, x.flat<T>().data(), b.flat<T>().data(),
                                                        ref.flat<T>().data(), y->flat<T>().data())));
    }

private:
    int axis_ = 1;
    fba::Params attrs_ = fba::Params();
};

}  // namespace

REGISTER_OP("FusedBiasAct")
    .Input("x: T").Input("b: T").Input("ref: T").Output("y: T")
    .Attr("T: {float, half}").Attr("grad: int = 0").Attr("axis: int = 1")
    .Attr("act: int = 0").Attr("alpha: float = 0.0").Attr("gain: float = 1.0")
    .Attr("clamp: float = -1.0")
    .SetShapeFn(::tensorflow::shape_inference::UnchangedShape);

#define FBA_REGISTER(device_enum, device_type, value_type)                                       \
    REGISTER_KERNEL_BUILDER(Name("FusedBiasAct").Device(device_enum).TypeConstraint<value_type>("T"), \
                            FusedBiasActOp<device_type, value_type>)

FBA_REGISTER(::tensorflow::DEVICE_CPU, CpuDevice, float);
FBA_REGISTER(::tensorflow::DEVICE_CPU, CpuDevice, Eigen::half);
#if GOOGLE_CUDA
FBA_REGISTER(::tensorflow::DEVICE_GPU, GpuDevice, float);
FBA_REGISTER(::tensorflow::DEVICE_GPU, GpuDevice, Eigen::half);
#endif
