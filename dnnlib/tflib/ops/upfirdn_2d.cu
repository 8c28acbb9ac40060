// TensorFlow op UpFirDn2D: upsample by zero insertion, pad (or crop), FIR filter, downsample.
//
// The arithmetic is in upfirdn_2d_kernels.h; this file reads the attributes, checks the tensors,
// fills ufd::Geometry and hands it to the CPU loop or the GPU kernel of that header.
//
//   inputs   x [images, inH, inW, channels], k [kernelH, kernelW] (type T: float or half)
//   output   y [images, outH, outW, channels], outH = (inH * upy + pady0 + pady1 - kernelH) // downy + 1
//   attrs    upx, upy, downx, downy (>= 1), padx0, padx1, pady0, pady1 (negative crops)

#define EIGEN_USE_THREADS
#if GOOGLE_CUDA
#define EIGEN_USE_GPU
#include <cuda_runtime.h>
#endif

#include <climits>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

#include "upfirdn_2d_kernels.h"

namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
namespace errors = ::tensorflow::errors;
namespace si = ::tensorflow::shape_inference;

typedef Eigen::ThreadPoolDevice CpuDevice;

// The eight integer attributes go straight into their Geometry fields. Both the kernel constructor
// and the shape function read them, hence the template over the context type.
template <typename Context>
Status read_attributes(Context* c, ufd::Geometry* g)
{
    const struct {
        const char* name;
        int* field;
    } table[] = {
        {"upx", &g->up_x},     {"upy", &g->up_y},     {"downx", &g->down_x}, {"downy", &g->down_y},
        {"padx0", &g->pad_x0}, {"padx1", &g->pad_x1}, {"pady0", &g->pad_y0}, {"pady1", &g->pad_y1},
    };
    for (const auto& entry : table) {
        Status status = c->GetAttr(entry.name, entry.field);
        if (!status.ok())
            return status;
    }
    if (g->up_x < 1 || g->up_y < 1)
        return errors::InvalidArgument("UpFirDn2D: upx and upy must be at least 1");
    if (g->down_x < 1 || g->down_y < 1)
        return errors::InvalidArgument("UpFirDn2D: downx and downy must be at least 1");
    return Status();
}

// Runs the header's code on the device the kernel was registered for.
template <typename Device, typename T>
struct Runner {
    static Status run(OpKernelContext*, const ufd::Geometry& g, const T* x, const T* k, T* y)
    {
        ufd::run_on_host(g, x, k, y);
        return Status();
    }
};

#if GOOGLE_CUDA
typedef Eigen::GpuDevice GpuDevice;

template <typename T>
struct Runner<GpuDevice, T> {
    static Status run(OpKernelContext* context, const ufd::Geometry& g, const T* x, const T* k, T* y)
    {
        const int threads = 256;
        const long long wanted = (ufd::output_count(g) + threads - 1) / threads;
        const int blocks = (int)(wanted < 65536 ? wanted : 65536);  // The kernel strides over the rest.
        cudaStream_t stream = context->eigen_device<GpuDevice>().stream();
        ufd::upfirdn_2d_kernel<T><<<blocks, threads, 0, stream>>>(g, x, k, y);
        const cudaError_t launched = cudaGetLastError();
        if (launched != cudaSuccess)
            return errors::Internal("UpFirDn2D: kernel launch failed: ", cudaGetErrorString(launched));
        return Status();
    }
};
#endif

// Sizes of x and k into `g` (attributes already there), with the output size.
Status describe_inputs(const Tensor& x, const Tensor& k, ufd::Geometry* g)
{
    if (x.dims() != 4)
        return errors::InvalidArgument("UpFirDn2D: x must be [majorDim, inH, inW, minorDim], got rank ", x.dims());
    if (k.dims() != 2)
        return errors::InvalidArgument("UpFirDn2D: k must be [kernelH, kernelW], got rank ", k.dims());
    if (x.NumElements() > INT_MAX || k.NumElements() > INT_MAX)
        return errors::InvalidArgument("UpFirDn2D: input too large");
    int* sizes[] = {&g->images, &g->in_h, &g->in_w, &g->channels};
    for (int d = 0; d < 4; ++d)
        *sizes[d] = (int)x.dim_size(d);
    g->taps_h = (int)k.dim_size(0);
    g->taps_w = (int)k.dim_size(1);
    if (g->taps_h < 1 || g->taps_w < 1)
        return errors::InvalidArgument("UpFirDn2D: kernel must not be empty");
    if (!ufd::fill_output_size(*g))
        return errors::InvalidArgument("UpFirDn2D: output would be empty (", g->out_h, " x ", g->out_w, ")");
    return Status();
}

template <typename Device, typename T>
class UpFirDn2DOp : public OpKernel {
public:
    explicit UpFirDn2DOp(OpKernelConstruction* context) : OpKernel(context)
    {
        OP_REQUIRES_OK(context, read_attributes(context, &attrs_));
    }

    void Compute(OpKernelContext* context) override
    {
        const Tensor& x = context->input(0);
        const Tensor& k = context->input(1);
        ufd::Geometry g = attrs_;
        OP_REQUIRES_OK(context, describe_inputs(x, k, &g));

        Tensor* y = nullptr;
        const TensorShape y_shape({g.images, g.out_h, g.out_w, g.channels});
        OP_REQUIRES_OK(context, context->allocate_output(0, y_shape, &y));
        if (ufd::output_count(g) == 0)
            return;
        OP_REQUIRES_OK(context, (Runner<Device, T>::run(context, g, x.flat<T>().data(), k.flat<T>().data(),
                                                        y->flat<T>().data())));
    }

private:
    ufd::Geometry attrs_ = ufd::Geometry();
};

// Output shape: images and channels pass through; height and width follow the formula when the
// input and filter sizes are known, and are unknown otherwise.
Status infer_output_shape(si::InferenceContext* c)
{
    si::ShapeHandle x, k;
    TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
    TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &k));
    ufd::Geometry g = ufd::Geometry();
    TF_RETURN_IF_ERROR(read_attributes(c, &g));

    const si::DimensionHandle in_h = c->Dim(x, 1), in_w = c->Dim(x, 2);
    const si::DimensionHandle taps_h = c->Dim(k, 0), taps_w = c->Dim(k, 1);
    si::DimensionHandle out_h = c->UnknownDim(), out_w = c->UnknownDim();
    if (c->ValueKnown(in_h) && c->ValueKnown(taps_h))
        out_h = c->MakeDim(ufd::output_length((int)c->Value(in_h), (int)c->Value(taps_h), g.up_y, g.down_y,
                                              g.pad_y0, g.pad_y1));
    if (c->ValueKnown(in_w) && c->ValueKnown(taps_w))
        out_w = c->MakeDim(ufd::output_length((int)c->Value(in_w), (int)c->Value(taps_w), g.up_x, g.down_x,
                                              g.pad_x0, g.pad_x1));
    c->set_output(0, c->MakeShape({c->Dim(x, 0), out_h, out_w, c->Dim(x, 3)}));
    return Status();
}

}  // namespace

REGISTER_OP("UpFirDn2D")
    .Input("x: T").Input("k: T").Output("y: T")
    .Attr("T: {float, half}")
    .Attr("upx: int = 1").Attr("upy: int = 1").Attr("downx: int = 1").Attr("downy: int = 1")
    .Attr("padx0: int = 0").Attr("padx1: int = 0").Attr("pady0: int = 0").Attr("pady1: int = 0")
    .SetShapeFn(infer_output_shape);

#define UFD_REGISTER(device_enum, device_type, value_type)                                     \
    REGISTER_KERNEL_BUILDER(Name("UpFirDn2D").Device(device_enum).TypeConstraint<value_type>("T"), \
                            UpFirDn2DOp<device_type, value_type>)

UFD_REGISTER(::tensorflow::DEVICE_CPU, CpuDevice, float);
UFD_REGISTER(::tensorflow::DEVICE_CPU, CpuDevice, Eigen::half);
#if GOOGLE_CUDA
UFD_REGISTER(::tensorflow::DEVICE_GPU, GpuDevice, float);
UFD_REGISTER(::tensorflow::DEVICE_GPU, GpuDevice, Eigen::half);
#endif
