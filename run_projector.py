"""Project images into a StyleGAN2 generator's latent space: generated images, dataset images, image files.

Examples:

  # Images the network generates from seeds 0, 1 and 5, projected back:
  python run_projector.py project-generated-images --network=gdrive:networks/stylegan2-car-config-f.pkl \\
      --seeds=0,1,5

  # The first 3 images of a TFRecord dataset:
  python run_projector.py project-real-images --network=gdrive:networks/stylegan2-car-config-f.pkl \\
      --dataset=car --data-dir=~/datasets

  # Ordinary image files (one file or every image in a folder), center-cropped and resized:
  python run_projector.py project-image-files --network=gdrive:networks/stylegan2-ffhq-config-f.pkl \\
      --images=photos/ --w-plus --save-video

For each image the run dir gets <prefix>target.png, <prefix>step%04d.png snapshots (the last one, step
--num-steps, is the final projection), <prefix>dlatents.npy [1, num_layers, C], <prefix>noises.npz
(noise0, noise1, ...: [1, 1, H, W]) and with --save-video <prefix>video.mp4 (target | projection, one
frame per step). Results go to a new numbered directory under --result-dir (default: results).
"""

import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import PIL.Image
from tqdm import tqdm

import dnnlib
from dnnlib import cli
import run_generator  # Without TensorFlow, as this module.

# TensorFlow and the modules that import it (pretrained_networks, projector, training.*) are imported
# inside the functions that use them, so that --help and usage errors answer at once.

# projector.LPIPS_URL, repeated for --help, which does not import projector (TensorFlow); a test keeps them equal.
LPIPS_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/vgg16_zhang_perceptual.pkl"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_FPS = 30


class ProjectorCommandError(ValueError):
    """Bad command-line input (the message names the file or option and the problem, in one line).

    A ValueError, so that `main` catches it also when raised by the copy of this module that submit_run imports."""


# ------------------------------------------------------------------------------------------------------
# Video of the optimisation, written by piping raw frames to ffmpeg (no Python video dependency).

def find_ffmpeg():
    """The ffmpeg executable: imageio-ffmpeg's bundled one if installed, else `ffmpeg` on the PATH."""
    try:
        import imageio_ffmpeg  # pylint: disable=import-outside-toplevel
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # pylint: disable=broad-except  (not installed, or its binary is missing)
        pass
    path = shutil.which("ffmpeg")
    if path is None:
        raise ProjectorCommandError("--save-video needs ffmpeg: install it (e.g. 'apt install ffmpeg') or "
                                    "'pip install imageio-ffmpeg', or leave out --save-video")
    return path


class VideoWriter:
    """Writes uint8 frames [H, W, C] (C = 1 or 3) to an H.264 MP4 file through an ffmpeg process."""

    def __init__(self, filename, width, height, channels, fps=VIDEO_FPS):
        self.filename = filename
        command = [find_ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo",
                   "-pix_fmt", "gray" if channels == 1 else "rgb24", "-s", "%dx%d" % (width, height),
                   "-r", str(fps), "-i", "-", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", filename]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, frame):
        try:
            self._process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except BrokenPipeError:  # ffmpeg stopped early: close() reports why.
            self.close()
            raise ProjectorCommandError("%s: ffmpeg stopped reading frames" % self.filename) from None

    def close(self):
        try:
            self._process.stdin.close()
        except BrokenPipeError:
            pass
        errors = self._process.stderr.read().decode("utf-8", "replace")
        if self._process.wait() != 0:
            raise ProjectorCommandError("%s: ffmpeg failed: %s" % (self.filename, " ".join(errors.split())[-300:]))


def _to_uint8_hwc(images):
    """[1, C, H, W] in [-1, 1] -> [H, W, C] uint8, rounded as misc.convert_to_pil_image does."""
    from training import misc  # pylint: disable=import-outside-toplevel
    image = misc.adjust_dynamic_range(images[0], [-1, 1], [0, 255])
    return np.rint(image).clip(0, 255).astype(np.uint8).transpose(1, 2, 0)


# ------------------------------------------------------------------------------------------------------
# Projecting one image.

def snapshot_steps(num_steps, num_snapshots):
    """The steps after which an image is saved: {num_steps, ...} evenly spaced, e.g. {1000, 800, ..., 200}."""
    return set(num_steps - np.linspace(0, num_steps, num_snapshots, endpoint=False).astype(int))


def project_image(proj, targets, png_prefix, num_snapshots, save_video=False):
    """Project targets [1, C, H, W] in [-1, 1] and save the files named in the module docstring."""
    from training import misc  # pylint: disable=import-outside-toplevel
    steps_to_save = snapshot_steps(proj.num_steps, num_snapshots)
    misc.save_image_grid(targets, png_prefix + "target.png", drange=[-1, 1])
    proj.start(targets)

    video = None
    if save_video:
        target_frame = _to_uint8_hwc(targets)
        height, width, channels = target_frame.shape
        video = VideoWriter(png_prefix + "video.mp4", width * 2, height, channels)

    bar = tqdm(total=proj.num_steps, desc="Projecting " + os.path.basename(png_prefix).rstrip("-"), unit="step",
               file=sys.stderr, mininterval=1.0)
    while proj.get_cur_step() < proj.num_steps:
        proj.step()
        bar.update(1)
        bar.set_postfix(dist="%.4g" % proj.history[-1].distance, refresh=False)
        images = None
        if proj.get_cur_step() in steps_to_save:
            images = proj.get_images()
            misc.save_image_grid(images, png_prefix + "step%04d.png" % proj.get_cur_step(), drange=[-1, 1])
        if video is not None:
            images = proj.get_images() if images is None else images
            video.write(np.concatenate([target_frame, _to_uint8_hwc(images)], axis=1))
    bar.close()
    if video is not None:
        video.close()

    np.save(png_prefix + "dlatents.npy", proj.get_dlatents())
    np.savez(png_prefix + "noises.npz", **{"noise%d" % idx: noise for idx, noise in enumerate(proj.get_noises())})
    print("%s: distance %.4g at step 1, %.4g at step %d" % (os.path.basename(png_prefix).rstrip("-"),
                                                           proj.history[0].distance, proj.history[-1].distance,
                                                           proj.num_steps))


def _make_projector(Gs, num_steps, w_plus, lpips_pkl):
    import projector  # pylint: disable=import-outside-toplevel
    proj = projector.Projector(num_steps=num_steps, w_plus=w_plus, distance_net=lpips_pkl)
    proj.set_network(Gs)
    return proj


# ------------------------------------------------------------------------------------------------------
# The three commands.

def project_generated_images(network_pkl, seeds, num_snapshots, truncation_psi, num_steps=1000, w_plus=False,
                             lpips_pkl=None, save_video=False, allow_code_execution=None, class_idx=None):
    """Targets generated by the network itself: z and noise maps from RandomState(seed), the class
    `class_idx` for conditional networks; `seed%04d-*`."""
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    print('Loading networks from "%s"...' % network_pkl)
    Gs = pretrained_networks.load_Gs(network_pkl, allow_code_execution=allow_code_execution)
    labels = run_generator.make_class_labels(Gs, class_idx, 1)
    proj = _make_projector(Gs, num_steps, w_plus, lpips_pkl)
    for number, seed in enumerate(seeds, 1):
        print("Projecting seed %d (%d/%d)..." % (seed, number, len(seeds)))
        # As generate-images with --noise-mode=seed: z, then the noise maps, from the seed's RandomState.
        rnd = np.random.RandomState(seed)
        latents = rnd.randn(1, *Gs.input_shape[1:])
        run_generator.set_noise_inputs(Gs, "seed", rnd)
        targets = Gs.run(latents, labels, randomize_noise=False, truncation_psi=truncation_psi)  # [1, C, H, W]
        project_image(proj, targets, dnnlib.make_run_dir_path("seed%04d-" % seed), num_snapshots, save_video)


def _open_dataset(data_dir, dataset_name, Gs):
    """The TFRecord dataset in file order, checked against the network's image shape."""
    from training import dataset as dataset_module  # pylint: disable=import-outside-toplevel
    tfrecord_dir = os.path.join(data_dir, dataset_name)
    if not os.path.isdir(tfrecord_dir):
        raise ProjectorCommandError("--data-dir/--dataset: %s is not a directory" % tfrecord_dir)
    dataset_obj = dataset_module.load_dataset(data_dir=data_dir, tfrecord_dir=dataset_name, max_label_size=0,
                                              repeat=False, shuffle_mb=0)
    if list(dataset_obj.shape) != list(Gs.output_shape[1:]):
        raise ProjectorCommandError("%s: images are %s, the network makes %s" % (tfrecord_dir, list(dataset_obj.shape),
                                                                               list(Gs.output_shape[1:])))
    return dataset_obj


def project_real_images(network_pkl, data_dir, dataset_name, num_images, num_snapshots, num_steps=1000,
                        w_plus=False, lpips_pkl=None, save_video=False, allow_code_execution=None):
    """The first `num_images` images of a TFRecord dataset (file order); `image%04d-*`."""
    import dnnlib.tflib  # noqa: F401  pylint: disable=import-outside-toplevel  (first: before TensorFlow)
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    from training import misc  # pylint: disable=import-outside-toplevel
    print('Loading networks from "%s"...' % network_pkl)
    Gs = pretrained_networks.load_Gs(network_pkl, allow_code_execution=allow_code_execution)
    proj = _make_projector(Gs, num_steps, w_plus, lpips_pkl)

    print('Loading images from "%s"...' % dataset_name)
    dataset_obj = _open_dataset(data_dir, dataset_name, Gs)
    for image_idx in range(num_images):
        print("Projecting image %d/%d..." % (image_idx + 1, num_images))
        try:
            images, _labels = dataset_obj.get_minibatch_np(1)  # [1, C, H, W] uint8
        except tf.errors.OutOfRangeError:
            print("The dataset has only %d images." % image_idx)
            break
        images = misc.adjust_dynamic_range(images, [0, 255], [-1, 1])
        project_image(proj, images, dnnlib.make_run_dir_path("image%04d-" % image_idx), num_snapshots, save_video)


def list_image_files(path):
    """[path] for a file, or the image files (by extension) directly inside a folder, sorted."""
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        names = sorted(name for name in os.listdir(path) if name.lower().endswith(IMAGE_EXTENSIONS))
        files = [os.path.join(path, name) for name in names if os.path.isfile(os.path.join(path, name))]
        if not files:
            raise ProjectorCommandError("--images: no image files (%s) in %s" % (", ".join(IMAGE_EXTENSIONS), path))
        return files
    raise ProjectorCommandError("--images: %s: no such file or directory" % path)


def load_image_file(path, resolution, num_channels):
    """An image file as a target [1, C, R, R] in [-1, 1]: center-cropped to a square, resized to R (Lanczos),
    converted to RGB (C = 3) or grayscale (C = 1); transparent pixels are composited onto white."""
    from training import misc  # pylint: disable=import-outside-toplevel
    try:
        with PIL.Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                image = PIL.Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image.alpha_composite(rgba)
            image = image.convert("L" if num_channels == 1 else "RGB")
    except (OSError, ValueError, SyntaxError) as e:  # PIL.UnidentifiedImageError is an OSError.
        raise ProjectorCommandError("%s: not a readable image (%s)" % (path, " ".join(str(e).split()))) from None

    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    image = image.resize((resolution, resolution), PIL.Image.LANCZOS)
    array = np.asarray(image, dtype=np.float32)
    array = array[np.newaxis] if array.ndim == 2 else array.transpose(2, 0, 1)  # [C, H, W]
    return misc.adjust_dynamic_range(array[np.newaxis], [0, 255], [-1, 1])


def file_prefixes(files):
    """One output prefix per file: its name without extension, or with the extension where names clash."""
    stems = [os.path.splitext(os.path.basename(path))[0] for path in files]
    prefixes = []
    for path, stem in zip(files, stems):
        prefixes.append((stem if stems.count(stem) == 1 else os.path.basename(path).replace(".", "_")) + "-")
    return prefixes


def project_image_files(network_pkl, images, num_snapshots, num_steps=1000, w_plus=False, lpips_pkl=None,
                        save_video=False, allow_code_execution=None):
    """Ordinary image files (a file or a folder's images); `<name>-*` per file."""
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    print('Loading networks from "%s"...' % network_pkl)
    Gs = pretrained_networks.load_Gs(network_pkl, allow_code_execution=allow_code_execution)
    proj = _make_projector(Gs, num_steps, w_plus, lpips_pkl)
    num_channels, resolution = Gs.output_shape[1], Gs.output_shape[2]

    files = list_image_files(images)
    for file_idx, (path, prefix) in enumerate(zip(files, file_prefixes(files))):
        print('Projecting "%s" (%d/%d)...' % (path, file_idx + 1, len(files)))
        targets = load_image_file(path, resolution, num_channels)
        project_image(proj, targets, dnnlib.make_run_dir_path(prefix), num_snapshots, save_video)


# ------------------------------------------------------------------------------------------------------
# Command line.

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got %r" % text)
    return value


_examples = """examples:

  # Project images generated by the network itself back into its latent space
  python %(prog)s project-generated-images --network=gdrive:networks/stylegan2-car-config-f.pkl --seeds=0,1,5

  # Project the first images of a TFRecord dataset
  python %(prog)s project-real-images --network=gdrive:networks/stylegan2-car-config-f.pkl \\
      --dataset=car --data-dir=~/datasets

  # Project your own photos (a file or a folder), one w per layer, with a video of the optimisation
  python %(prog)s project-image-files --network=gdrive:networks/stylegan2-ffhq-config-f.pkl \\
      --images=photos/ --w-plus --save-video

  # Without internet access: a local copy of the LPIPS network
  python %(prog)s project-image-files --network=net.pkl --images=face.png --lpips-pkl=vgg16_zhang_perceptual.pkl
"""


def _add_common_args(parser):
    parser.add_argument("--network", help="Network pickle: path, URL or gdrive:networks/<name>.pkl (default: the "
                        "shipped 32x32 Fashion-MNIST network networks/stylegan2-fmnist32-cond.pkl)", dest="network_pkl",
                        default=None)
    parser.add_argument("--num-snapshots", type=_positive_int, default=5,
                        help="Number of snapshots (default: %(default)s)")
    parser.add_argument("--num-steps", type=_positive_int, default=1000,
                        help="Optimisation steps (default: %(default)s)")
    parser.add_argument("--w-plus", action="store_true", help="Optimise one w per layer instead of one shared w")
    parser.add_argument("--lpips-pkl", default=None, metavar="PKL",
                        help="Distance network pickle (path or URL; default: $STYLEGAN2_METRICS_DIR/%s or %s); its "
                             "embedded code is executed" % (os.path.basename(LPIPS_URL), LPIPS_URL))
    parser.add_argument("--save-video", action="store_true", help="Also save an MP4 of the optimisation (needs ffmpeg)")
    parser.add_argument("--result-dir", help="Root directory for run results (default: %(default)s)",
                        default="results", metavar="DIR")
    parser.add_argument("--allow-code-execution", action="store_true", dest="allow_code_execution", default=None,
                        help="Let the network pickle run the code it embeds (only for files you trust; "
                             "official downloads always may)")


def _check_inputs(subcmd, kwargs):
    """Everything that can be checked before a run dir exists, the quick checks first: inputs, ffmpeg,
    network, distance network, image contents."""
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    import projector  # pylint: disable=import-outside-toplevel
    image_files = list_image_files(kwargs["images"]) if subcmd == "project-image-files" else []
    if kwargs["network_pkl"] is None:
        kwargs["network_pkl"] = pretrained_networks.DEFAULT_NETWORK
    if subcmd == "project-real-images" and not os.path.isdir(os.path.join(kwargs["data_dir"], kwargs["dataset_name"])):
        raise ProjectorCommandError("--data-dir/--dataset: %s is not a directory"
                                    % os.path.join(kwargs["data_dir"], kwargs["dataset_name"]))
    if kwargs["save_video"]:
        find_ffmpeg()
    Gs = pretrained_networks.load_Gs(kwargs["network_pkl"], allow_code_execution=kwargs["allow_code_execution"])
    if subcmd == "project-generated-images":
        try:
            run_generator.require_class_idx(Gs, kwargs["class_idx"])  # The run warns if --class is ignored.
        except ValueError as e:
            raise ProjectorCommandError("%s: %s" % (kwargs["network_pkl"], e))
    projector.load_distance_net(kwargs["lpips_pkl"] or projector.default_lpips_location())
    if subcmd == "project-real-images":
        _open_dataset(kwargs["data_dir"], kwargs["dataset_name"], Gs)
    for path in image_files:
        load_image_file(path, Gs.output_shape[2], Gs.output_shape[1])


def main(argv=None):
    parser = cli.ArgumentParser(
        description="StyleGAN2 projector.\n\nRun 'python %(prog)s <subcommand> --help' for subcommand help.",
        epilog=_examples, formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(help="Sub-commands", dest="command")

    parser_generated = subparsers.add_parser("project-generated-images", help="Project images generated by the network")
    _add_common_args(parser_generated)
    parser_generated.add_argument("--seeds", type=cli.parse_seeds, default=cli.NumRange("0-2"),
                                  help="List of random seeds in 0..%d, e.g. 0-3 or 1,5,9 (default: 0,1,2)"
                                       % cli.MAX_SEED)
    parser_generated.add_argument("--truncation-psi", type=cli.finite_float, default=1.0,
                                  help="Truncation psi (default: %(default)s)")
    parser_generated.add_argument("--class", dest="class_idx", type=int, default=None,
                                  help="Class of the generated targets, for conditional networks")

    parser_real = subparsers.add_parser("project-real-images", help="Project images of a TFRecord dataset")
    _add_common_args(parser_real)
    parser_real.add_argument("--data-dir", help="Dataset root directory", required=True)
    parser_real.add_argument("--dataset", help="Dataset name (a folder of TFRecords in --data-dir)",
                             dest="dataset_name", required=True)
    parser_real.add_argument("--num-images", type=_positive_int, default=3,
                             help="Number of images to project, the first ones in file order (default: %(default)s)")

    parser_files = subparsers.add_parser("project-image-files", help="Project image files (a file or a folder)")
    _add_common_args(parser_files)
    parser_files.add_argument("--images", required=True,
                              help="An image file, or a folder whose image files are all projected")

    args = parser.parse_args(argv)
    kwargs = vars(args)
    subcmd = kwargs.pop("command")
    if subcmd is None:
        parser.print_help()
        return 1
    if "data_dir" in kwargs:
        kwargs["data_dir"] = os.path.expanduser(kwargs["data_dir"])

    # Check the inputs before a run dir exists, so that a bad one gives one clear line and leaves nothing
    # behind; the run function then finds the networks in their caches.
    import dnnlib.tflib  # noqa: F401  pylint: disable=import-outside-toplevel  (first: it quiets TensorFlow's start-up)
    from training import dataset as dataset_module  # pylint: disable=import-outside-toplevel
    from training import misc  # pylint: disable=import-outside-toplevel
    try:
        _check_inputs(subcmd, kwargs)
    except (misc.NetworkPickleError, ProjectorCommandError, dataset_module.DatasetError) as e:
        return cli.report_error(parser.prog, e)

    func_name = {
        "project-generated-images": "run_projector.project_generated_images",
        "project-real-images": "run_projector.project_real_images",
        "project-image-files": "run_projector.project_image_files",
    }[subcmd]
    try:
        cli.run_in_new_run_dir(func_name, result_dir=kwargs.pop("result_dir"), run_desc=subcmd, **kwargs)
    except ValueError as e:  # ProjectorCommandError included.
        return cli.report_error(parser.prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
