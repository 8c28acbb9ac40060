"""Build the official reference networks of ../shared/reference/<name>/ with their stored variables."""

import json
import os

import numpy as np

import dnnlib.tflib as tflib


def load_meta(ref_dir, name):
    with open(os.path.join(ref_dir, name, "meta.json")) as f:
        return json.load(f)


def assign_vars(net, npz_path):
    """Set every variable of `net` from the npz (keys are local names with '/' written as '|')."""
    values = np.load(npz_path)
    names = {key.replace("|", "/") for key in values.files}
    assert names == set(net.vars), "variables differ: %s" % sorted(names ^ set(net.vars))
    tflib.set_vars({net.vars[key.replace("|", "/")]: values[key] for key in values.files})


def build_reference_networks(ref_dir, name):
    """(G, D, Gs) of reference folder `name`, built by our code, with the official variable values."""
    meta = load_meta(ref_dir, name)
    G = tflib.Network("G", func_name="training.networks_stylegan2.G_main", **meta["G_static_kwargs"])
    D = tflib.Network("D", func_name="training.networks_stylegan2.D_stylegan2", **meta["D_static_kwargs"])
    Gs = G.clone("Gs")
    for net, file_name in [(G, "vars_G.npz"), (D, "vars_D.npz"), (Gs, "vars_Gs.npz")]:
        assign_vars(net, os.path.join(ref_dir, name, file_name))
    return G, D, Gs


def build_ada_reference_networks(ref_dir, name, **extra_kwargs):
    """(G, D, Gs) of an ADA reference folder (meta.json has G_kwargs and D_kwargs), built by our
    training.networks with the official variable values; `extra_kwargs` go to both (e.g. data_format)."""
    meta = load_meta(ref_dir, name)
    G = tflib.Network("G", func_name="training.networks.G_main", **dict(meta["G_kwargs"], **extra_kwargs))
    D = tflib.Network("D", func_name="training.networks.D_main", **dict(meta["D_kwargs"], **extra_kwargs))
    Gs = G.clone("Gs")
    for net, file_name in [(G, "vars_G.npz"), (D, "vars_D.npz"), (Gs, "vars_Gs.npz")]:
        assign_vars(net, os.path.join(ref_dir, name, file_name))
    return G, D, Gs
