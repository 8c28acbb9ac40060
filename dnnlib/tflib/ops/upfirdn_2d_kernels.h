// upfirdn_2d_kernels.h: the arithmetic of the UpFirDn2D op, with no TensorFlow in sight.
//
// upfirdn_2d.cu wraps it into a TensorFlow op (CPU and GPU kernels); the GPU check in
// benchmarks/gpu_kernel_check.py compiles it on its own with CuPy. A host compiler alone builds
// it too (no CUDA): then only the CPU loop exists.
//
// Picture each input image on a finer grid: input pixel (iy, ix) sits at grid point
// (iy * up_y, ix * up_x) and every other grid point is zero. The grid is then extended by the pads
// (a negative pad cuts rows or columns off), and output pixel (oy, ox) is the filter k, flipped as
// in a convolution, laid on the grid with its first tap at grid point (oy * down_y, ox * down_x).
// Nothing of that grid is ever stored: each output pixel visits just the input pixels that fall
// under the filter and the filter taps they meet.

#pragma once

#if defined(__CUDACC__)
#define UFD_FN __host__ __device__ inline
#else
#define UFD_FN inline
#endif

namespace ufd {

// Sizes and attributes of one call, all of them int: the layout is the same in every compiler
// and easy to build from NumPy.
struct Geometry {
    int images, in_h, in_w, channels;  // x is [images, in_h, in_w, channels].
    int taps_h, taps_w;                // k is [taps_h, taps_w].
    int up_x, up_y, down_x, down_y;
    int pad_x0, pad_x1, pad_y0, pad_y1;
    int out_h, out_w;                  // Set by fill_output_size().
};

// Division that rounds towards minus infinity, for b > 0 (C++ rounds towards zero).
UFD_FN int floor_div(int a, int b)
{
    const int q = a / b;
    return (q * b > a) ? q - 1 : q;
}

// Output samples along one axis; 0 or less means the output is empty.
UFD_FN int output_length(int in, int taps, int up, int down, int pad0, int pad1)
{
    return floor_div(in * up + pad0 + pad1 - taps, down) + 1;
}

// Computes out_h and out_w; false when a factor is below 1, the filter is empty or so is the output.
UFD_FN bool fill_output_size(Geometry& g)
{
    if (g.up_x < 1 || g.up_y < 1 || g.down_x < 1 || g.down_y < 1 || g.taps_h < 1 || g.taps_w < 1)
        return false;
    g.out_h = output_length(g.in_h, g.taps_h, g.up_y, g.down_y, g.pad_y0, g.pad_y1);
    g.out_w = output_length(g.in_w, g.taps_w, g.up_x, g.down_x, g.pad_x0, g.pad_x1);
    return g.out_h > 0 && g.out_w > 0;
}

UFD_FN long long output_count(const Geometry& g)
{
    return (long long)g.images * g.out_h * g.out_w * g.channels;
}

// Where output position `o` meets the input along one axis: `first` is the first input sample
// under the filter and `tap` the filter index it meets. Each later input sample meets the tap `up`
// places before; the walk ends when the taps or the input run out.
struct Walk {
    int first;
    int tap;
};

UFD_FN Walk start_walk(int o, int taps, int up, int down, int pad0)
{
    const int origin = o * down - pad0;         // Grid point under the filter's first tap.
    int first = -floor_div(-origin, up);        // Ceiling: first input sample at or after it.
    if (first < 0)
        first = 0;
    Walk w;
    w.first = first;
    w.tap = taps - 1 - (first * up - origin);   // Flipped: grid offset t meets tap taps-1-t.
    return w;
}

// Output element `flat` of y ([images, out_h, out_w, channels], row-major), summed in float.
template <typename T>
UFD_FN float output_element(const Geometry& g, const T* x, const T* k, long long flat)
{
    const int c = (int)(flat % g.channels);
    flat /= g.channels;
    const int ox = (int)(flat % g.out_w);
    flat /= g.out_w;
    const int oy = (int)(flat % g.out_h);
    const long long image = flat / g.out_h;

    const Walk wy = start_walk(oy, g.taps_h, g.up_y, g.down_y, g.pad_y0);
    const Walk wx = start_walk(ox, g.taps_w, g.up_x, g.down_x, g.pad_x0);
    const long long pitch = (long long)g.in_w * g.channels;  // One input row.
    const T* plane = x + image * g.in_h * pitch + c;

    float sum = 0.0f;
    for (int iy = wy.first, ty = wy.tap; iy < g.in_h && ty >= 0; ++iy, ty -= g.up_y) {
        const T* src = plane + iy * pitch;
        const T* filter_row = k + (long long)ty * g.taps_w;
        for (int ix = wx.first, tx = wx.tap; ix < g.in_w && tx >= 0; ++ix, tx -= g.up_x)
            sum += (float)src[(long long)ix * g.channels] * (float)filter_row[tx];
    }
    return sum;
}

#if !defined(__CUDACC_RTC__)
// The CPU version: a plain loop over the output.
template <typename T>
void run_on_host(const Geometry& g, const T* x, const T* k, T* y)
{
    const long long n = output_count(g);
    for (long long i = 0; i < n; ++i)
        y[i] = static_cast<T>(output_element(g, x, k, i));
}
#endif

#if defined(__CUDACC__)
// The GPU version: one thread per output element, each thread striding by the grid size when the
// grid is smaller than the output.
template <typename T>
__global__ void upfirdn_2d_kernel(Geometry g, const T* x, const T* k, T* y)
{
    const long long n = output_count(g);
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = static_cast<T>(output_element(g, x, k, i));
}
#endif

}  // namespace ufd
