"""Miscellaneous helpers: network pickles (load/save), image grids, dynamic ranges, mirror augment."""

import io
import os
import pickle

import numpy as np
import PIL.Image

import dnnlib
from dnnlib.tflib import network_pickle
from dnnlib.util import write_file_atomically  # noqa: F401  (callers use misc.write_file_atomically)

# Network pickles: everything lives in dnnlib.tflib.network_pickle; these names stay for callers.
NetworkPickleError = network_pickle.NetworkPickleError
TRUSTED_URL_PREFIXES = network_pickle.TRUSTED_URL_PREFIXES
is_trusted_source = network_pickle.is_trusted_source
open_file_or_url = network_pickle.open_file_or_url


def load_pkl(file_or_url, allow_code_execution=None):
    """Load a network pickle (path or URL); see `dnnlib.tflib.network_pickle.load`."""
    return network_pickle.load(file_or_url, allow_code_execution=allow_code_execution)


def save_pkl(obj, filename):
    """Write a network pickle in the official format, atomically; see `dnnlib.tflib.network_pickle.save`."""
    network_pickle.save(obj, filename)


# ------------------------------------------------------------------------------------------------------
# Images.

def adjust_dynamic_range(data, drange_in, drange_out):
    """Map values linearly so that `drange_in` lands on `drange_out` (nothing is clipped)."""
    if drange_in == drange_out:
        return data
    low_in, high_in = np.float32(drange_in[0]), np.float32(drange_in[1])
    low_out, high_out = np.float32(drange_out[0]), np.float32(drange_out[1])
    scale = (high_out - low_out) / (high_in - low_in)
    return data * scale + (low_out - low_in * scale)


def create_image_grid(images, grid_size=None):
    """[N, C, H, W] (or [N, H, W]) images -> one [C, gh*H, gw*W] grid, filled row by row; empty cells are 0.

    grid_size = (gw, gh); default: the smallest square grid that holds N images. Images that do not fit
    are left out.
    """
    assert images.ndim in (3, 4), "images must be [N, C, H, W] or [N, H, W], got %s" % (images.shape,)
    count, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    if grid_size is None:
        cols = max(int(np.ceil(np.sqrt(count))), 1)
        rows = max(-(-count // cols), 1)
    else:
        cols, rows = (int(n) for n in grid_size)
    channels = tuple(images.shape[1:-2])  # () for [N, H, W] input.
    cells = np.zeros((rows * cols,) + images.shape[1:], dtype=images.dtype)
    shown = min(count, rows * cols)
    cells[:shown] = images[:shown]
    # [rows, cols, *channels, H, W] -> [*channels, rows, H, cols, W], then merge the row and column axes.
    cells = cells.reshape((rows, cols) + channels + (height, width))
    k = len(channels)
    cells = cells.transpose(tuple(range(2, 2 + k)) + (0, 2 + k, 1, 3 + k))
    return cells.reshape(channels + (rows * height, cols * width))


def convert_to_pil_image(image, drange=(0, 1)):
    """One [C, H, W] or [H, W] image with values in `drange` -> PIL image (RGB or L), rounded and clipped."""
    assert image.ndim in (2, 3)
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
    pixels = np.rint(adjust_dynamic_range(image, drange, [0, 255])).clip(0, 255).astype(np.uint8)
    return PIL.Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB")


def _write_image(pil_image, filename, image_format):
    encoded = io.BytesIO()
    pil_image.save(encoded, format=image_format)
    dnnlib.util.write_file_atomically(filename, encoded.getvalue())


def save_image_grid(images, filename, drange=(0, 1), grid_size=None):
    """Save [N, C, H, W] images as one grid image (JPEG for .jpg/.jpeg names, else PNG), atomically."""
    image_format = "JPEG" if filename.lower().endswith((".jpg", ".jpeg")) else "PNG"
    _write_image(convert_to_pil_image(create_image_grid(images, grid_size), drange), filename, image_format)


def save_image(image_uint8_hwc, filename):
    """Save one [H, W, C] uint8 image (C = 1 or 3) as PNG, atomically."""
    gray = image_uint8_hwc.shape[2] == 1
    pixels = image_uint8_hwc[:, :, 0] if gray else image_uint8_hwc
    _write_image(PIL.Image.fromarray(pixels, "L" if gray else "RGB"), filename, "PNG")


def apply_mirror_augment(minibatch):
    """Flip each [N, C, H, W] image left-right with probability 0.5 (NumPy's global generator)."""
    flip = np.random.rand(minibatch.shape[0]) < 0.5
    result = np.array(minibatch)
    result[flip] = result[flip][..., ::-1]
    return result


# ------------------------------------------------------------------------------------------------------
# Run dirs.

def parse_config_for_previous_run(run_dir):
    """What an earlier run was called with: `train` (the run function's kwargs) and `dataset` (its dataset args)."""
    with open(os.path.join(run_dir, "submit_config.pkl"), "rb") as f:
        submit_config = pickle.load(f)
    run_kwargs = submit_config.get("run_func_kwargs", {})
    return dict(train=run_kwargs, dataset=run_kwargs.get("dataset_args", {}))


# ------------------------------------------------------------------------------------------------------
# Snapshot image grids (training).

def setup_snapshot_image_grid(training_set, size="1080p", layout="random"):
    """A grid of real images for training snapshots: ((gw, gh), reals [gw*gh, C, H, W] uint8, labels).

    size: '1080p', '4k' or '8k' (as many images as fill that screen, 2..32 per side; the grid
    width at least 3/7/7, height 2/4/4), or an explicit (gw, gh).
    layout: 'random', or for conditional datasets 'row_per_class', 'col_per_class', 'class4x4'
    (images grouped by their label's argmax).
    """
    img_h, img_w = training_set.shape[1], training_set.shape[2]
    screens = {"1080p": (1920, 1080, 3, 2), "4k": (3840, 2160, 7, 4), "8k": (7680, 4320, 7, 4)}
    if isinstance(size, str):
        if size not in screens:
            raise ValueError("setup_snapshot_image_grid: size must be one of %s or (gw, gh), got %r"
                             % (sorted(screens), size))
        screen_w, screen_h, min_w, min_h = screens[size]
        grid_w = int(np.clip(screen_w // img_w, min_w, 32))
        grid_h = int(np.clip(screen_h // img_h, min_h, 32))
    else:
        grid_w, grid_h = int(size[0]), int(size[1])
    num = grid_w * grid_h
    reals = np.zeros([num] + list(training_set.shape), dtype=training_set.dtype)
    labels = np.zeros([num, training_set.label_size], dtype=training_set.label_dtype)

    class_block_sizes = dict(row_per_class=(grid_w, 1), col_per_class=(1, grid_h), class4x4=(4, 4))
    if layout == "random":
        reals[:], labels[:] = training_set.get_minibatch_np(num)
    elif layout in class_block_sizes:
        # Each class fills blocks of bw x bh cells; class k goes to block k, or k + bw*bh, ... once full.
        block_w, block_h = class_block_sizes[layout]
        blocks_x = (grid_w - 1) // block_w + 1
        blocks_y = (grid_h - 1) // block_h + 1
        blocks = [[] for _ in range(blocks_x * blocks_y)]
        per_block = block_w * block_h
        for _ in range(1000000):
            real, label = training_set.get_minibatch_np(1)
            block_idx = int(np.argmax(label[0])) if label.shape[1] > 0 else 0
            while block_idx < len(blocks) and len(blocks[block_idx]) >= per_block:
                block_idx += per_block
            if block_idx < len(blocks):
                blocks[block_idx].append((real[0], label[0]))
                if all(len(block) >= per_block for block in blocks):
                    break
        for block_idx, block in enumerate(blocks):
            for item_idx, (real, label) in enumerate(block):
                x = (block_idx % blocks_x) * block_w + item_idx % block_w
                y = (block_idx // blocks_x) * block_h + item_idx // block_w
                if x < grid_w and y < grid_h:
                    reals[x + y * grid_w] = real
                    labels[x + y * grid_w] = label
    else:
        raise ValueError("setup_snapshot_image_grid: unknown layout %r (random, row_per_class, col_per_class, "
                         "class4x4)" % (layout,))
    return (grid_w, grid_h), reals, labels
