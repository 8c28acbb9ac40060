"""The official pretrained StyleGAN2 networks by name, and `load_networks` for names, URLs and files.

    import pretrained_networks
    G, D, Gs = pretrained_networks.load_networks('gdrive:networks/stylegan2-ffhq-config-f.pkl')

Names of the form `gdrive:networks/<file>` (the official names, kept so that existing scripts work)
map to NVIDIA's download server; so do `ada:<name>` for the StyleGAN2-ADA networks (`ada_urls`: metfaces,
brecahad, afhqcat, afhqdog, afhqwild, cifar10, ffhq). `transfer_learning_sources` are the networks that
ADA's `--resume=ffhq256` etc. start from. Downloads are cached in `$STYLEGAN2_CACHE_DIR` or `.stylegan2-cache/`.

`DEFAULT_NETWORK` is a small conditional network that ships with the code (32x32 Fashion-MNIST, classes
0-9, trained with run_training.py on the Fashion-MNIST training images; see the README): the default of
run_generator.py and run_projector.py, so that they work offline.
"""

import os

import dnnlib.tflib as tflib
from dnnlib.tflib import network_pickle

DOWNLOAD_ROOT = "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/"
ADA_DOWNLOAD_ROOT = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada/pretrained/"
DEFAULT_NETWORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "networks", "stylegan2-fmnist32-cond.pkl")


def _official_files():
    """File names of every official StyleGAN2 pickle, relative to DOWNLOAD_ROOT."""
    datasets_table1, datasets_table3 = ("ffhq", "car"), ("cat", "church", "horse")
    archs = ("orig", "skip", "resnet")
    # The paper's Table 1 (configs a-f), Table 3 (config f on more LSUN classes), Table 2 (config e with
    # every combination of G and D architecture).
    table1 = ["stylegan2-%s-config-%s.pkl" % (data, config) for data in datasets_table1 for config in "abcdef"]
    table3 = ["stylegan2-%s-config-f.pkl" % data for data in datasets_table3]
    table2 = ["table2/stylegan2-%s-config-e-G%s-D%s.pkl" % (data, g_arch, d_arch)
              for data in datasets_table1 for g_arch in archs for d_arch in archs]
    return table1 + table3 + table2


gdrive_urls = {"gdrive:networks/" + name: DOWNLOAD_ROOT + name for name in _official_files()}

# StyleGAN2-ADA's networks (metfaces 1024x1024 by transfer from FFHQ; brecahad, afhq* 512x512; cifar10
# conditional 32x32; ffhq the original StyleGAN2 network), usable as `ada:<name>`.
ada_urls = {name: ADA_DOWNLOAD_ROOT + name + ".pkl"
            for name in ("metfaces", "brecahad", "afhqcat", "afhqdog", "afhqwild", "cifar10", "ffhq")}

# Where ADA's transfer learning starts (`--resume=<name>`).
transfer_learning_sources = {
    name: ADA_DOWNLOAD_ROOT + "transfer-learning-source-nets/" + file_name for name, file_name in [
        ("ffhq256", "ffhq-res256-mirror-paper256-noaug.pkl"),
        ("ffhq512", "ffhq-res512-mirror-stylegan2-noaug.pkl"),
        ("ffhq1024", "ffhq-res1024-mirror-stylegan2-noaug.pkl"),
        ("celebahq256", "celebahq-res256-mirror-paper256-kimg100000-ada-target0.5.pkl"),
        ("lsundog256", "lsundog-res256-paper256-kimg100000-noaug.pkl"),
    ]}

_cached_networks = dict()  # Loaded networks by path or URL: each file is read once per process.


def get_path_or_url(path_or_gdrive_path):
    """The download URL of an official `gdrive:` or `ada:` name; anything else is returned unchanged."""
    if path_or_gdrive_path in gdrive_urls:
        return gdrive_urls[path_or_gdrive_path]
    if path_or_gdrive_path.startswith("gdrive:"):
        raise network_pickle.NetworkPickleError("%s: unknown official network; known names: %s"
                                                % (path_or_gdrive_path, ", ".join(sorted(gdrive_urls))))
    if path_or_gdrive_path.startswith("ada:"):
        name = path_or_gdrive_path[len("ada:"):]
        if name not in ada_urls:
            raise network_pickle.NetworkPickleError("%s: unknown StyleGAN2-ADA network; known names: %s"
                                                    % (path_or_gdrive_path, ", ".join("ada:" + n for n in ada_urls)))
        return ada_urls[name]
    return path_or_gdrive_path


def load_networks(path_or_gdrive_path, allow_code_execution=None):
    """Load `(G, D, Gs)` (or whatever the pickle holds) from an official name, URL or file; cached.

    Initialises TensorFlow (`dnnlib.tflib.init_tf()`) if needed. Files that are not from the official
    download server load in safe mode unless `allow_code_execution` (see `dnnlib.tflib.network_pickle`).
    Raises `NetworkPickleError` (also known as `training.misc.NetworkPickleError`), one line, on failure.
    """
    path_or_url = get_path_or_url(path_or_gdrive_path)
    if path_or_url not in _cached_networks:
        tflib.init_tf()
        _cached_networks[path_or_url] = network_pickle.load(path_or_url, allow_code_execution=allow_code_execution)
    return _cached_networks[path_or_url]


def load_Gs(path_or_gdrive_path, allow_code_execution=None):
    """Only the generator's moving average `Gs` of a `(G, D, Gs)` pickle (or the one network it holds)."""
    networks = load_networks(path_or_gdrive_path, allow_code_execution=allow_code_execution)
    if isinstance(networks, tflib.Network):
        return networks
    if isinstance(networks, tuple) and len(networks) == 3:
        return networks[2]
    raise network_pickle.NetworkPickleError("%s: expected a (G, D, Gs) tuple or a single network, got %s"
                                            % (path_or_gdrive_path, type(networks).__name__))
