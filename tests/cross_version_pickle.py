"""Write or read a small network pickle, for the test that pickles cross TensorFlow versions.

    python tests/cross_version_pickle.py save DIR   # build (G, D, Gs), write DIR/nets.pkl and DIR/saved.npz
    python tests/cross_version_pickle.py load DIR   # load DIR/nets.pkl, write DIR/loaded.npz

Both .npz files hold every variable of the three networks (`vars/<net>/<name>`) and the outputs of fixed
inputs (`out/<name>`), computed in the interpreter that wrote them; `versions.json` beside them says which
Python, TensorFlow and NumPy that was. tests/test_cross_version_pickles.py runs one side here and the other
under $STYLEGAN2_OTHER_PYTHON.
"""

import json
import os
import platform
import sys

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_DIR not in sys.path:
    sys.path.insert(0, REPO_DIR)

import numpy as np  # noqa: E402

import dnnlib.tflib as tflib  # noqa: E402  (before TensorFlow: sets its environment)
import tensorflow.compat.v1 as tf  # noqa: E402
from training import misc  # noqa: E402

# A 16x16 config-e/f style triple, as small as the official reference networks.
G_KWARGS = dict(resolution=16, num_channels=3, fmap_base=128, fmap_max=32, latent_size=32, dlatent_size=32,
                mapping_fmaps=32, mapping_layers=2)
D_KWARGS = dict(resolution=16, num_channels=3, fmap_base=128, fmap_max=32)
NUM_IMAGES = 4


def _fixed_inputs():
    rnd = np.random.RandomState(2020)
    latents = rnd.randn(NUM_IMAGES, G_KWARGS["latent_size"]).astype(np.float32)
    images = rnd.uniform(-1, 1, [NUM_IMAGES, 3, 16, 16]).astype(np.float32)
    return latents, images


def _outputs(G, D, Gs):
    """Every variable and the outputs of fixed inputs, as a dict of arrays."""
    latents, images = _fixed_inputs()
    labels = np.zeros([NUM_IMAGES, 0], np.float32)
    result = {}
    for net in (G, D, Gs):
        for name, value in zip(net.vars.keys(), tflib.run(list(net.vars.values()))):
            result["vars/%s/%s" % (net.name, name)] = value
    result["out/Gs_psi0.7"] = Gs.run(latents, labels, truncation_psi=0.7, randomize_noise=False)
    result["out/G_psi1"] = G.run(latents, labels, truncation_psi=1, randomize_noise=False)
    result["out/dlatents"] = Gs.components.mapping.run(latents, labels)
    result["out/D_scores"] = D.run(images, labels)
    return result


def _write_versions(out_dir, key):
    path = os.path.join(out_dir, "versions.json")
    versions = {}
    if os.path.isfile(path):
        with open(path) as f:
            versions = json.load(f)
    versions[key] = {"python": platform.python_version(), "tensorflow": tf.VERSION, "numpy": np.__version__}
    with open(path, "w") as f:
        json.dump(versions, f, indent=1)


def save(out_dir):
    """Build (G, D, Gs) with seeded random variables, pickle them, and record variables and outputs."""
    with tf.Graph().as_default(), tflib.create_session(force_as_default=False).as_default():
        G = tflib.Network("G", func_name="training.networks_stylegan2.G_main", **G_KWARGS)
        D = tflib.Network("D", func_name="training.networks_stylegan2.D_stylegan2", **D_KWARGS)
        Gs = G.clone("Gs")
        # Random values for every variable (biases, noise strengths and dlatent_avg too), so all of them
        # shape the outputs; seeded, so both directions of the test use the same networks.
        rnd = np.random.RandomState(7)
        for net in (G, D, Gs):
            values = tflib.run(list(net.vars.values()))
            tflib.set_vars({var: (value + 0.2 * rnd.randn(*value.shape)).astype(value.dtype)
                            for var, value in zip(net.vars.values(), values)})
        misc.save_pkl((G, D, Gs), os.path.join(out_dir, "nets.pkl"))
        np.savez(os.path.join(out_dir, "saved.npz"), **_outputs(G, D, Gs))
    _write_versions(out_dir, "saved")


def load(out_dir):
    """Load the pickle written by save() and record its variables and outputs here."""
    with tf.Graph().as_default(), tflib.create_session(force_as_default=False).as_default():
        G, D, Gs = misc.load_pkl(os.path.join(out_dir, "nets.pkl"))
        np.savez(os.path.join(out_dir, "loaded.npz"), **_outputs(G, D, Gs))
    _write_versions(out_dir, "loaded")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "load"):
        sys.exit("usage: python %s save|load DIR" % sys.argv[0])
    os.makedirs(sys.argv[2], exist_ok=True)
    {"save": save, "load": load}[sys.argv[1]](sys.argv[2])
