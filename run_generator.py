"""Generate images with a StyleGAN2 network: `generate-images` and `style-mixing-example`.

Examples:

  # Images for seeds 6600-6625 with the official FFHQ network, truncation psi 0.5:
  python run_generator.py generate-images --network=gdrive:networks/stylegan2-ffhq-config-f.pkl \\
      --seeds=6600-6625 --truncation-psi=0.5

  # Style mixing: rows take coarse styles (layers 0-6) from the column seeds:
  python run_generator.py style-mixing-example --network=gdrive:networks/stylegan2-ffhq-config-f.pkl \\
      --row-seeds=85,100,75,458,1500 --col-seeds=55,821,1789,293 --truncation-psi=1.0

Results go to a new numbered directory under --result-dir (default: results).
"""

import argparse
import sys

import numpy as np
from tqdm import tqdm

import dnnlib
from dnnlib import cli

# TensorFlow and the modules that import it (dnnlib.tflib, pretrained_networks, training.misc) are imported
# inside the functions that use them, so that --help and usage errors answer at once.

NOISE_MODES = ("seed", "const", "random", "none")


# ------------------------------------------------------------------------------------------------------
# Shared by both commands.

def check_class_idx(Gs, class_idx):
    """Raise ValueError unless `class_idx` is None (every class in turn, for conditional networks) or a class
    in [0, label_size); for an unconditional network anything goes (it is ignored)."""
    label_size = Gs.input_shapes[1][1]
    if label_size and class_idx is not None and not 0 <= class_idx < label_size:
        raise ValueError("--class must be in [0, %d) for this network, got %d" % (label_size, class_idx))


def require_class_idx(Gs, class_idx):
    """Raise ValueError if the network is conditional and no class was chosen (style mixing needs one)."""
    check_class_idx(Gs, class_idx)
    label_size = Gs.input_shapes[1][1]
    if label_size and class_idx is None:
        raise ValueError("the network is conditional (%d classes): choose one with --class" % label_size)


def class_of_seed(Gs, class_idx, seed):
    """The class an image is drawn in: `class_idx`, or with None every class in turn (seed mod the number of
    classes, so a seed always gives the same image); None for unconditional networks."""
    label_size = Gs.input_shapes[1][1]
    if label_size == 0:
        return None
    return class_idx if class_idx is not None else seed % label_size


def warn_if_class_ignored(Gs, class_idx):
    """Say that --class does nothing when the network is unconditional."""
    if Gs.input_shapes[1][1] == 0 and class_idx is not None:
        print("Warning: --class=%d is ignored: the network is unconditional." % class_idx)


def make_class_labels(Gs, class_idx, num):
    """One-hot labels [num, label_size] for `class_idx`, or None for unconditional networks."""
    require_class_idx(Gs, class_idx)
    warn_if_class_ignored(Gs, class_idx)
    label_size = Gs.input_shapes[1][1]
    if label_size == 0:
        return None
    labels = np.zeros([num, label_size], np.float32)
    labels[:, class_idx] = 1
    return labels


def _noise_vars(Gs):
    """The synthesis network's noise inputs (`noise0`, `noise1`, ...), in variable order."""
    return [var for name, var in Gs.components.synthesis.vars.items() if name.startswith("noise")]


def set_noise_inputs(Gs, noise_mode, rnd):
    """Prepare the noise inputs for one image; returns the `randomize_noise` flag for Gs.run.

    seed:   the official protocol: each noise map drawn from `rnd` (the seed's RandomState), in order.
    const:  the noise maps stored in the network, unchanged.
    random: fresh noise on every run (not reproducible).
    none:   all noise maps zero.
    """
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel
    if noise_mode == "seed":
        tflib.set_vars({var: rnd.randn(*var.shape.as_list()) for var in _noise_vars(Gs)})
    elif noise_mode == "none":
        tflib.set_vars({var: np.zeros(var.shape.as_list()) for var in _noise_vars(Gs)})
    return noise_mode == "random"


# ------------------------------------------------------------------------------------------------------
# generate-images

def check_col_styles(Gs, col_styles):
    """Raise ValueError unless every style-mixing layer index exists in the network."""
    num_layers = Gs.components.synthesis.input_shape[1]
    bad_styles = [style for style in col_styles if not 0 <= style < num_layers]
    if bad_styles:
        raise ValueError("--col-styles must be layer indices in [0, %d), got %s" % (num_layers, bad_styles))


def generate_images(network_pkl, seeds, truncation_psi, class_idx=None, noise_mode="seed", grid=False,
                    allow_code_execution=None):
    """One image per seed, saved as `seed%04d.png` in the run dir (and `grid.png` with `grid`).

    `seeds`: any sequence of seeds, e.g. a dnnlib.cli.NumRange, which stays small however many it holds.
    A conditional network without `class_idx` draws every class in turn (seed mod the number of classes);
    its grid then has a row per class."""
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    from training import misc  # pylint: disable=import-outside-toplevel
    print('Loading networks from "%s"...' % network_pkl)
    _G, _D, Gs = pretrained_networks.load_networks(network_pkl, allow_code_execution=allow_code_execution)
    check_class_idx(Gs, class_idx)
    warn_if_class_ignored(Gs, class_idx)
    label_size = Gs.input_shapes[1][1]
    if label_size and class_idx is None:
        print("The network is conditional (%d classes) and no --class was given: seed s is drawn in class "
              "s mod %d." % (label_size, label_size))

    Gs_kwargs = dnnlib.EasyDict()
    Gs_kwargs.output_transform = dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True)
    if truncation_psi is not None:
        Gs_kwargs.truncation_psi = truncation_psi

    images, classes = [], []  # Kept for the grid only.
    for seed in tqdm(seeds, total=len(seeds), desc="Generating", unit="image"):
        rnd = np.random.RandomState(seed)
        z = rnd.randn(1, *Gs.input_shape[1:])  # [minibatch, latent]
        seed_class = class_of_seed(Gs, class_idx, seed)
        labels = None if seed_class is None else np.eye(label_size, dtype=np.float32)[[seed_class]]
        Gs_kwargs.randomize_noise = set_noise_inputs(Gs, noise_mode, rnd)
        image = Gs.run(z, labels, **Gs_kwargs)  # [minibatch, height, width, channel], uint8
        misc.save_image(image[0], dnnlib.make_run_dir_path("seed%04d.png" % seed))
        if grid:
            images.append(image[0])
            classes.append(seed_class)

    if grid:
        rows_by_class = label_size > 0 and class_idx is None
        grid_images, grid_size = class_rows(images, classes) if rows_by_class else (np.stack(images), None)
        misc.save_image_grid(grid_images.transpose(0, 3, 1, 2), dnnlib.make_run_dir_path("grid.png"),
                             drange=[0, 255], grid_size=grid_size)
    print("Saved %d images to %s" % (len(seeds), dnnlib.make_run_dir_path()))


def class_rows(images, classes):
    """Lay out [H, W, C] images in a row per class (the classes present, in order; each row in the images'
    order, short rows padded with black): returns images [rows * cols, H, W, C] and grid_size (cols, rows)."""
    row_classes = sorted(set(classes))
    rows = [[image for image, image_class in zip(images, classes) if image_class == row_class]
            for row_class in row_classes]
    cols = max(len(row) for row in rows)
    cells = np.zeros([len(rows) * cols] + list(images[0].shape), images[0].dtype)
    for row_index, row in enumerate(rows):
        cells[row_index * cols:row_index * cols + len(row)] = row
    return cells, (cols, len(rows))


# ------------------------------------------------------------------------------------------------------
# style-mixing-example

def style_mixing_example(network_pkl, row_seeds, col_seeds, truncation_psi, col_styles, minibatch_size=4,
                         class_idx=None, allow_code_execution=None):
    """Rows of images whose `col_styles` layers come from the column seeds; `%d-%d.png` and `grid.png`."""
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    from training import misc  # pylint: disable=import-outside-toplevel
    print('Loading networks from "%s"...' % network_pkl)
    _G, _D, Gs = pretrained_networks.load_networks(network_pkl, allow_code_execution=allow_code_execution)
    mapping, synthesis = Gs.components.mapping, Gs.components.synthesis
    check_col_styles(Gs, col_styles)
    row_seeds, col_seeds, col_styles = list(row_seeds), list(col_seeds), list(col_styles)
    synthesis_kwargs = dict(output_transform=dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True),
                            randomize_noise=False, minibatch_size=minibatch_size)

    print("Generating W vectors...")
    seeds = list(set(row_seeds + col_seeds))
    z = np.stack([np.random.RandomState(seed).randn(*Gs.input_shape[1:]) for seed in seeds])
    w = mapping.run(z, make_class_labels(Gs, class_idx, len(seeds)))  # One w per layer: [seeds, layers, C].
    w_avg = Gs.get_var("dlatent_avg")
    w = w_avg + (w - w_avg) * truncation_psi
    w_of_seed = dict(zip(seeds, w))

    print("Generating images...")
    unmixed = synthesis.run(w, **synthesis_kwargs)  # uint8 [seeds, H, W, C]
    images = {(seed, seed): image for seed, image in zip(seeds, unmixed)}

    print("Generating style-mixed images...")
    pairs = [(row_seed, col_seed) for row_seed in row_seeds for col_seed in col_seeds]
    for row_seed, col_seed in tqdm(pairs, desc="Mixing", unit="image"):
        mixed_w = np.array(w_of_seed[row_seed])
        mixed_w[col_styles] = w_of_seed[col_seed][col_styles]
        images[(row_seed, col_seed)] = synthesis.run(mixed_w[np.newaxis], **synthesis_kwargs)[0]

    print("Saving images...")
    for (row_seed, col_seed), image in images.items():
        misc.save_image(image, dnnlib.make_run_dir_path("%d-%d.png" % (row_seed, col_seed)))

    print("Saving image grid...")
    misc.save_image(style_mixing_grid(images, row_seeds, col_seeds), dnnlib.make_run_dir_path("grid.png"))


def style_mixing_grid(images, row_seeds, col_seeds):
    """One uint8 image of the style-mixing results {(row seed, column seed): [H, W, C]}: the column seeds'
    own images along the top, the row seeds' own images down the left, the mixes in between; the top-left
    cell stays black."""
    height, width, channels = next(iter(images.values())).shape
    cells = [(0, col + 1, (seed, seed)) for col, seed in enumerate(col_seeds)]
    cells += [(row + 1, 0, (seed, seed)) for row, seed in enumerate(row_seeds)]
    cells += [(row + 1, col + 1, (row_seed, col_seed)) for row, row_seed in enumerate(row_seeds)
              for col, col_seed in enumerate(col_seeds)]
    grid = np.zeros([(len(row_seeds) + 1) * height, (len(col_seeds) + 1) * width, channels], np.uint8)
    for row, col, key in cells:
        grid[row * height:(row + 1) * height, col * width:(col + 1) * width] = images[key]
    return grid


# ------------------------------------------------------------------------------------------------------
# Command line.

_examples = """examples:

  # 26 uncurated FFHQ faces with truncation 0.5 (the paper's Figure 12 seeds)
  python %(prog)s generate-images --network=gdrive:networks/stylegan2-ffhq-config-f.pkl --seeds=6600-6625 --truncation-psi=0.5

  # A few untruncated FFHQ faces (the paper's Figure 11 seeds)
  python %(prog)s generate-images --network=gdrive:networks/stylegan2-ffhq-config-f.pkl --seeds=66,230,389,1518 --truncation-psi=1.0

  # LSUN Car, with one grid image of all results
  python %(prog)s generate-images --network=gdrive:networks/stylegan2-car-config-f.pkl --seeds=6000-6025 --truncation-psi=0.5 --grid

  # Style mixing grid: 5 row seeds x 4 column seeds
  python %(prog)s style-mixing-example --network=gdrive:networks/stylegan2-ffhq-config-f.pkl --row-seeds=85,100,75,458,1500 --col-seeds=55,821,1789,293 --truncation-psi=1.0
"""


def _add_common_args(parser):
    parser.add_argument("--network", help="Network pickle: path, URL or gdrive:networks/<name>.pkl (default: the "
                        "shipped 32x32 Fashion-MNIST network networks/stylegan2-fmnist32-cond.pkl, conditional: "
                        "classes 0-9)", dest="network_pkl", default=None)
    parser.add_argument("--class", help="Class index for conditional networks (generate-images without it: "
                        "every class in turn, seed s in class s mod the number of classes)", dest="class_idx",
                        type=int, default=None)
    parser.add_argument("--result-dir", help="Root directory for run results (default: %(default)s)", default="results", metavar="DIR")
    parser.add_argument("--allow-code-execution", action="store_true", dest="allow_code_execution", default=None,
                        help="Let the pickle run the network code it embeds (only for files you trust; "
                             "official downloads always may)")
    parser.add_argument("--truncation-psi", type=cli.finite_float, help="Truncation psi (default: %(default)s)",
                        default=0.5)
    parser.add_argument("--bfloat16", action="store_true",
                        help="Run the convolutions and matrix products in bfloat16 (faster on CPUs with AVX512_BF16 "
                             "or AMX; images differ slightly, see README 'Performance')")


def _make_parser():
    parser = cli.ArgumentParser(
        description="StyleGAN2 generator.\n\nRun 'python %(prog)s <subcommand> --help' for subcommand help.",
        epilog=_examples, formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(help="Sub-commands", dest="command")

    parser_generate = subparsers.add_parser("generate-images", help="One image per seed")
    _add_common_args(parser_generate)
    parser_generate.add_argument("--seeds", type=cli.parse_seeds, required=True,
                                 help="List of random seeds in 0..%d, e.g. 0-3 or 1,5,9" % cli.MAX_SEED)
    parser_generate.add_argument("--noise-mode", choices=NOISE_MODES, default="seed",
                                 help="Noise inputs: drawn from each seed as the official script (seed, default), "
                                      "as stored in the network (const), fresh each image (random), or zero (none)")
    parser_generate.add_argument("--grid", action="store_true", help="Also save all images as one grid.png")

    parser_mixing = subparsers.add_parser("style-mixing-example", help="A grid of style-mixed images")
    _add_common_args(parser_mixing)
    parser_mixing.add_argument("--row-seeds", type=cli.parse_seeds, help="Seeds of the rows (they give the styles not in --col-styles)", required=True)
    parser_mixing.add_argument("--col-seeds", type=cli.parse_seeds, help="Seeds of the columns (they give the --col-styles layers)", required=True)
    parser_mixing.add_argument("--col-styles", type=cli.parse_num_range, help="Style layer range (default: %(default)s)", default="0-6")
    return parser


def _check_network_options(subcmd, kwargs):
    """Load the network and check the options that depend on it (--class, --col-styles); raises
    NetworkPickleError or ValueError. Done before a run dir exists, so that a bad value gives one clear
    line and leaves nothing behind; the run function then finds the network in load_networks' cache."""
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    if kwargs["network_pkl"] is None:
        kwargs["network_pkl"] = pretrained_networks.DEFAULT_NETWORK
    _G, _D, Gs = pretrained_networks.load_networks(kwargs["network_pkl"],
                                                   allow_code_execution=kwargs["allow_code_execution"])
    if subcmd == "style-mixing-example":
        require_class_idx(Gs, kwargs["class_idx"])
        check_col_styles(Gs, kwargs["col_styles"])
    else:
        check_class_idx(Gs, kwargs["class_idx"])


def main(argv=None):
    parser = _make_parser()
    args = parser.parse_args(argv)
    kwargs = vars(args)
    subcmd = kwargs.pop("command")
    if subcmd is None:
        parser.print_help()
        return 1

    from training import misc  # pylint: disable=import-outside-toplevel  (imports TensorFlow)
    from dnnlib.tflib import precision  # pylint: disable=import-outside-toplevel
    try:
        _check_network_options(subcmd, kwargs)
        if kwargs.pop("bfloat16"):
            precision.set_bfloat16(True)
    except (misc.NetworkPickleError, ValueError, RuntimeError) as e:
        return cli.report_error(parser.prog, e)

    func_name = {
        "generate-images": "run_generator.generate_images",
        "style-mixing-example": "run_generator.style_mixing_example",
    }[subcmd]
    try:
        cli.run_in_new_run_dir(func_name, result_dir=kwargs.pop("result_dir"), run_desc=subcmd, **kwargs)
    except ValueError as e:  # The run dir then holds _failed.txt with the same line.
        return cli.report_error(parser.prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
