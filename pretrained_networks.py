"""The official pretrained StyleGAN2 networks by name, and `load_networks` for names, URLs and files.

    import pretrained_networks
    G, D, Gs = pretrained_networks.load_networks('gdrive:networks/stylegan2-ffhq-config-f.pkl')

Names of the form `gdrive:networks/<file>` (the official names, kept so that existing scripts work)
map to NVIDIA's download server. Downloads are cached in `$STYLEGAN2_CACHE_DIR` or `.stylegan2-cache/`.

`DEFAULT_NETWORK` is a small conditional network that ships with the code (32x32 handwritten digits,
classes 0-9, trained with run_training.py on scikit-learn's digits; see the README): the default of
run_generator.py and run_projector.py, so that they work offline.
"""

import os

import dnnlib
import dnnlib.tflib as tflib
from training import misc

DOWNLOAD_ROOT = "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/"
DEFAULT_NETWORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "networks", "stylegan2-digits32-cond.pkl")


def _official_files():
    """File names of every official StyleGAN2 pickle, relative to DOWNLOAD_ROOT."""
    files = []
    # Paper Table 1: configs a-f on FFHQ and LSUN Car.
    for dataset in ["ffhq", "car"]:
        files += ["stylegan2-%s-config-%s.pkl" % (dataset, config) for config in "abcdef"]
    # Paper Table 3: config f on LSUN Cat, Church, Horse.
    files += ["stylegan2-%s-config-f.pkl" % dataset for dataset in ["cat", "church", "horse"]]
    # Paper Table 2: config e with every G/D architecture, on FFHQ and LSUN Car.
    for dataset in ["ffhq", "car"]:
        for g_arch in ["orig", "skip", "resnet"]:
            for d_arch in ["orig", "skip", "resnet"]:
                files.append("table2/stylegan2-%s-config-e-G%s-D%s.pkl" % (dataset, g_arch, d_arch))
    return files


gdrive_urls = {"gdrive:networks/" + name: DOWNLOAD_ROOT + name for name in _official_files()}

_cached_networks = dict()  # Loaded networks by path or URL, as the official module caches them.


def get_path_or_url(path_or_gdrive_path):
    """The download URL of an official `gdrive:` name; anything else is returned unchanged."""
    if path_or_gdrive_path.startswith("gdrive:") and path_or_gdrive_path not in gdrive_urls:
        raise misc.NetworkPickleError("%s: unknown official network; known names: %s"
                                      % (path_or_gdrive_path, ", ".join(sorted(gdrive_urls))))
    return gdrive_urls.get(path_or_gdrive_path, path_or_gdrive_path)


def load_networks(path_or_gdrive_path, allow_code_execution=None):
    """Load `(G, D, Gs)` (or whatever the pickle holds) from an official name, URL or file; cached.

    Initialises TensorFlow (`dnnlib.tflib.init_tf()`) if needed. Files that are not from the official
    download server load in safe mode unless `allow_code_execution` (see `training.misc.load_pkl`).
    Raises `training.misc.NetworkPickleError` with a one-line message on failure.
    """
    path_or_url = get_path_or_url(path_or_gdrive_path)
    if path_or_url in _cached_networks:
        return _cached_networks[path_or_url]
    tflib.init_tf()
    networks = misc.load_pkl(path_or_url, allow_code_execution=allow_code_execution)
    _cached_networks[path_or_url] = networks
    return networks


def load_Gs(path_or_gdrive_path, allow_code_execution=None):
    """Only the generator's moving average `Gs` of a `(G, D, Gs)` pickle."""
    networks = load_networks(path_or_gdrive_path, allow_code_execution=allow_code_execution)
    if isinstance(networks, tuple) and len(networks) == 3:
        return networks[2]
    if isinstance(networks, tflib.Network):
        return networks
    raise misc.NetworkPickleError("%s: expected a (G, D, Gs) tuple or a single network, got %s"
                                  % (path_or_gdrive_path, type(networks).__name__))


