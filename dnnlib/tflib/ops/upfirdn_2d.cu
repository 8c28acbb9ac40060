// UpFirDn2D: upsample (zero insertion), pad/crop, 2-D FIR filter (true convolution), downsample.
//
// x: [majorDim, inH, inW, minorDim], k: [kernelH, kernelW], y: [majorDim, outH, outW, minorDim] with
// outH = (inH * upy + pady0 + pady1 - kernelH) / downy + 1 (same along x).
// The per-output-pixel math lives in one __host__ __device__ function; the GPU kernel runs it in a
// grid-stride loop and the CPU kernel runs it in a plain loop, so both devices compute the same thing.

#define EIGEN_USE_THREADS
#if GOOGLE_CUDA
#define EIGEN_USE_GPU
#endif

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

#if GOOGLE_CUDA
#include <cuda_runtime.h>
#endif

using namespace tensorflow;

#if defined(__CUDACC__)
#define HOST_DEVICE __host__ __device__
#else
#define HOST_DEVICE
#endif

//------------------------------------------------------------------------
// Shared math.

struct UpFirDn2DParams
{
    int majorDim, inH, inW, minorDim;
    int kernelH, kernelW;
    int upx, upy, downx, downy;
    int padx0, padx1, pady0, pady1;
    int outH, outW;
    long long numOutputs;
};

// Value of output element `index` (flat index into [majorDim, outH, outW, minorDim]).
// Output pixel (oy, ox) is the convolution window starting at (oy * downy, ox * downx) of the
// upsampled and padded image. Only upsampled positions that hold an input pixel (multiples of up,
// inside the image) contribute, so we step through those directly. Tap t of the window multiplies
// kernel row kernelH - 1 - t (the kernel is applied flipped: a convolution, not a correlation).
template <typename T>
HOST_DEVICE inline T upfirdn2d_output(const UpFirDn2DParams& p, const T* x, const T* k, long long index)
{
    int minor = (int)(index % p.minorDim);
    long long rest = index / p.minorDim;
    int ox = (int)(rest % p.outW);
    rest /= p.outW;
    int oy = (int)(rest % p.outH);
    int major = (int)(rest / p.outH);

    // Upsampled-image coordinate of the window's first tap (can be negative: padding).
    int uy0 = oy * p.downy - p.pady0;
    int ux0 = ox * p.downx - p.padx0;

    // First input row/column at or after the window start.
    int iy0 = (uy0 > 0) ? (uy0 + p.upy - 1) / p.upy : 0;
    int ix0 = (ux0 > 0) ? (ux0 + p.upx - 1) / p.upx : 0;

    float acc = 0.0f;
    for (int iy = iy0; iy < p.inH; iy++)
    {
        int ty = iy * p.upy - uy0;
        if (ty >= p.kernelH)
            break;
        const T* xRow = x + ((long long)major * p.inH + iy) * p.inW * p.minorDim + minor;
        const T* kRow = k + (long long)(p.kernelH - 1 - ty) * p.kernelW;
        for (int ix = ix0; ix < p.inW; ix++)
        {
            int tx = ix * p.upx - ux0;
            if (tx >= p.kernelW)
                break;
            acc += (float)xRow[(long long)ix * p.minorDim] * (float)kRow[p.kernelW - 1 - tx];
        }
    }
    return (T)acc;
}

//------------------------------------------------------------------------
// Device-specific launchers.

typedef Eigen::ThreadPoolDevice CPUDevice;

template <typename Device, typename T>
struct UpFirDn2DLauncher;

template <typename T>
struct UpFirDn2DLauncher<CPUDevice, T>
{
    static void run(OpKernelContext* ctx, const UpFirDn2DParams& p, const T* x, const T* k, T* y)
    {
        for (long long i = 0; i < p.numOutputs; i++)
            y[i] = upfirdn2d_output<T>(p, x, k, i);
    }
};

#if GOOGLE_CUDA

typedef Eigen::GpuDevice GPUDevice;

template <typename T>
__global__ void UpFirDn2DKernel(const UpFirDn2DParams p, const T* x, const T* k, T* y)
{
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.numOutputs; i += stride)
        y[i] = upfirdn2d_output<T>(p, x, k, i);
}

template <typename T>
struct UpFirDn2DLauncher<GPUDevice, T>
{
    static void run(OpKernelContext* ctx, const UpFirDn2DParams& p, const T* x, const T* k, T* y)
    {
        cudaStream_t stream = ctx->eigen_device<GPUDevice>().stream();
        int blockSize = 256;
        long long wanted = (p.numOutputs + blockSize - 1) / blockSize;
        int gridSize = (int)(wanted < 65536 ? wanted : 65536);
        UpFirDn2DKernel<T><<<gridSize, blockSize, 0, stream>>>(p, x, k, y);
        cudaError_t err = cudaGetLastError();
        OP_REQUIRES(ctx, err == cudaSuccess,
            errors::Internal("UpFirDn2D: CUDA kernel launch failed: ", cudaGetErrorString(err)));
    }
};

#endif // GOOGLE_CUDA

//------------------------------------------------------------------------
// TensorFlow op.

template <typename Device, typename T>
class UpFirDn2DOp : public OpKernel
{
public:
    explicit UpFirDn2DOp(OpKernelConstruction* ctx) : OpKernel(ctx)
    {
        OP_REQUIRES_OK(ctx, ctx->GetAttr("upx", &m_p.upx));
        OP_REQUIRES_OK(ctx, ctx->GetAttr("upy", &m_p.upy));
        OP_REQUIRES_OK(ctx, ctx->GetAttr("downx", &m_p.downx));
        OP_REQUIRES_OK(ctx, ctx->GetAttr("downy", &m_p.downy));
        OP_REQUIRES_OK(ctx, ctx->GetAttr("padx0", &m_p.padx0));
        OP_REQUIRES_OK(ctx, ctx->GetAttr("padx1", &m_p.padx1));
        OP_REQUIRES_OK(ctx, ctx->GetAttr("pady0", &m_p.pady0));
        OP_REQUIRES_OK(ctx, ctx->GetAttr("pady1", &m_p.pady1));
        OP_REQUIRES(ctx, m_p.upx >= 1 && m_p.upy >= 1, errors::InvalidArgument("UpFirDn2D: upx and upy must be at least 1"));
        OP_REQUIRES(ctx, m_p.downx >= 1 && m_p.downy >= 1, errors::InvalidArgument("UpFirDn2D: downx and downy must be at least 1"));
    }

    void Compute(OpKernelContext* ctx) override
    {
        const Tensor& x = ctx->input(0);
        const Tensor& k = ctx->input(1);
        OP_REQUIRES(ctx, x.dims() == 4, errors::InvalidArgument("UpFirDn2D: x must be [majorDim, inH, inW, minorDim], got rank ", x.dims()));
        OP_REQUIRES(ctx, k.dims() == 2, errors::InvalidArgument("UpFirDn2D: k must be [kernelH, kernelW], got rank ", k.dims()));
        OP_REQUIRES(ctx, x.NumElements() <= INT_MAX && k.NumElements() <= INT_MAX, errors::InvalidArgument("UpFirDn2D: input too large"));

        UpFirDn2DParams p = m_p;
        p.majorDim = (int)x.dim_size(0);
        p.inH = (int)x.dim_size(1);
        p.inW = (int)x.dim_size(2);
        p.minorDim = (int)x.dim_size(3);
        p.kernelH = (int)k.dim_size(0);
        p.kernelW = (int)k.dim_size(1);
        OP_REQUIRES(ctx, p.kernelH >= 1 && p.kernelW >= 1, errors::InvalidArgument("UpFirDn2D: kernel must not be empty"));
        p.outH = floorDiv(p.inH * p.upy + p.pady0 + p.pady1 - p.kernelH, p.downy) + 1;
        p.outW = floorDiv(p.inW * p.upx + p.padx0 + p.padx1 - p.kernelW, p.downx) + 1;
        OP_REQUIRES(ctx, p.outH >= 1 && p.outW >= 1, errors::InvalidArgument("UpFirDn2D: output would be empty (", p.outH, " x ", p.outW, ")"));
        p.numOutputs = (long long)p.majorDim * p.outH * p.outW * p.minorDim;

        Tensor* y = NULL;
        OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({p.majorDim, p.outH, p.outW, p.minorDim}), &y));
        if (p.numOutputs == 0)
            return;
        UpFirDn2DLauncher<Device, T>::run(ctx, p, x.flat<T>().data(), k.flat<T>().data(), y->flat<T>().data());
    }

private:
    static int floorDiv(int a, int b) { return (a >= 0) ? a / b : -((-a + b - 1) / b); }
    UpFirDn2DParams m_p;
};

REGISTER_OP("UpFirDn2D")
    .Input("x: T")
    .Input("k: T")
    .Output("y: T")
    .Attr("T: {float, half}")
    .Attr("upx: int = 1")
    .Attr("upy: int = 1")
    .Attr("downx: int = 1")
    .Attr("downy: int = 1")
    .Attr("padx0: int = 0")
    .Attr("padx1: int = 0")
    .Attr("pady0: int = 0")
    .Attr("pady1: int = 0")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
        shape_inference::ShapeHandle x, k;
        TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
        TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &k));
        int upx, upy, downx, downy, padx0, padx1, pady0, pady1;
        TF_RETURN_IF_ERROR(c->GetAttr("upx", &upx));
        TF_RETURN_IF_ERROR(c->GetAttr("upy", &upy));
        TF_RETURN_IF_ERROR(c->GetAttr("downx", &downx));
        TF_RETURN_IF_ERROR(c->GetAttr("downy", &downy));
        TF_RETURN_IF_ERROR(c->GetAttr("padx0", &padx0));
        TF_RETURN_IF_ERROR(c->GetAttr("padx1", &padx1));
        TF_RETURN_IF_ERROR(c->GetAttr("pady0", &pady0));
        TF_RETURN_IF_ERROR(c->GetAttr("pady1", &pady1));
        if (upx < 1 || upy < 1 || downx < 1 || downy < 1)
            return errors::InvalidArgument("UpFirDn2D: up and down factors must be at least 1");

        // Output size along one axis, or unknown when the input or kernel size is unknown.
        auto outSize = [c](shape_inference::DimensionHandle in, shape_inference::DimensionHandle kernel,
                           int up, int down, int pad0, int pad1) -> shape_inference::DimensionHandle {
            if (!c->ValueKnown(in) || !c->ValueKnown(kernel))
                return c->UnknownDim();
            long long total = c->Value(in) * up + pad0 + pad1 - c->Value(kernel);
            long long q = (total >= 0) ? total / down : -((-total + down - 1) / down);
            return c->MakeDim(q + 1);
        };
        shape_inference::DimensionHandle outH = outSize(c->Dim(x, 1), c->Dim(k, 0), upy, downy, pady0, pady1);
        shape_inference::DimensionHandle outW = outSize(c->Dim(x, 2), c->Dim(k, 1), upx, downx, padx0, padx1);
        c->set_output(0, c->MakeShape({c->Dim(x, 0), outH, outW, c->Dim(x, 3)}));
        return Status();
    });

REGISTER_KERNEL_BUILDER(Name("UpFirDn2D").Device(DEVICE_CPU).TypeConstraint<float>("T"), UpFirDn2DOp<CPUDevice, float>);
REGISTER_KERNEL_BUILDER(Name("UpFirDn2D").Device(DEVICE_CPU).TypeConstraint<Eigen::half>("T"), UpFirDn2DOp<CPUDevice, Eigen::half>);

#if GOOGLE_CUDA
REGISTER_KERNEL_BUILDER(Name("UpFirDn2D").Device(DEVICE_GPU).TypeConstraint<float>("T"), UpFirDn2DOp<GPUDevice, float>);
REGISTER_KERNEL_BUILDER(Name("UpFirDn2D").Device(DEVICE_GPU).TypeConstraint<Eigen::half>("T"), UpFirDn2DOp<GPUDevice, Eigen::half>);
#endif
