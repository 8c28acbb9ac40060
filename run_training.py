"""Train a StyleGAN2 (configs a-f of the paper's Table 1, the Table 2 variants), or resume a run.

    python run_training.py --data-dir=datasets --dataset=ffhq --config=config-f --mirror-augment=true
"""

import argparse
import copy
import glob
import itertools
import json
import os
import pprint
import re
import sys

import dnnlib
from dnnlib import EasyDict
from dnnlib.cli import finite_float, str_to_bool
from metrics.metric_defaults import metric_defaults

# Table 1 of the paper: each config adds one change to the one before it.
_TABLE_1 = [
    ("config-a", "StyleGAN, the baseline"),
    ("config-b", "weight demodulation"),
    ("config-c", "lazy regularization"),
    ("config-d", "path length regularization"),
    ("config-e", "no progressive growing; the new G and D architectures"),
    ("config-f", "large networks (the default)"),
]
_ARCHITECTURES = ["orig", "resnet", "skip"]
# Table 2: config-e with every pair of G and D architectures.
_valid_configs = [name for name, _ in _TABLE_1] + ["config-e-G%s-D%s" % (g, d) for g in _ARCHITECTURES
                                                    for d in _ARCHITECTURES]

_ADAM = dict(beta1=0.0, beta2=0.99, epsilon=1e-8)
_DEFAULT_SCHEDULE = dict(G_lrate_base=0.002, D_lrate_base=0.002, minibatch_size_base=32, minibatch_gpu_base=4)
# Configs a-d grow from 8x8, with minibatches and learning rates per resolution.
_GROWING_SCHEDULE = dict(
    lod_initial_resolution=8, G_lrate_base=0.001, D_lrate_base=0.001,
    G_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003},
    D_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003},
    minibatch_size_dict={8: 256, 16: 128, 32: 64, 64: 32}, minibatch_gpu_dict={8: 32, 16: 16, 32: 8, 64: 4})


# StyleGAN2-ADA's --cfg presets: reference GPU count (minibatch_gpu = mb // ref_gpus), kimg, minibatch,
# minibatch-stddev group, feature maps (fmap_base = fmaps * 16384), learning rate, R1 gamma, EMA half-life
# (kimg), EMA ramp-up, mapping layers. `auto` derives most of them from the resolution and GPU count.
_ADA_FIELDS = ["ref_gpus", "kimg", "mb", "mbstd", "fmaps", "lrate", "gamma", "ema", "ramp", "map"]
_ADA_CFGS = {
    "stylegan2": [8, 25000, 32, 4, 1, 0.002, 10, 10, None, 8],
    "paper256": [8, 25000, 64, 8, 0.5, 0.0025, 1, 20, None, 8],
    "paper512": [8, 25000, 64, 8, 1, 0.0025, 0.5, 20, None, 8],
    "paper1024": [8, 25000, 32, 4, 1, 0.002, 2, 10, None, 8],
    "cifar": [2, 100000, 64, 32, 0.5, 0.0025, 0.01, 500, 0.05, 2],
}
_valid_cfgs = ["auto"] + list(_ADA_CFGS)
_AUG_MODES = ["ada", "noaug", "fixed"]
_AUGPIPES = ["blit", "geom", "color", "filter", "noise", "cutout", "bg", "bgc", "bgcf", "bgcfn", "bgcfnc"]


class UsageError(Exception):
    """A bad command-line value; the message is one line naming the option."""


def ada_preset(cfg, resolution, num_gpus):
    """EasyDict of the _ADA_FIELDS of --cfg `cfg` for a dataset of `resolution` and `num_gpus` GPUs."""
    if cfg != "auto":
        return EasyDict(zip(_ADA_FIELDS, _ADA_CFGS[cfg]))
    mb = max(min(num_gpus * min(4096 // resolution, 32), 64), num_gpus)
    return EasyDict(ref_gpus=num_gpus, kimg=25000, mb=mb, mbstd=min(mb // num_gpus, 4),
                    fmaps=1 if resolution >= 512 else 0.5, lrate=0.002 if resolution >= 1024 else 0.0025,
                    gamma=0.0002 * resolution ** 2 / mb, ema=mb * 10 / 32, ramp=0.05, map=2)


def _networks_of(config_id):
    """(G_args, D_args) of a config, before the size options."""
    stage = config_id[:8]
    if stage == "config-a":
        return (EasyDict(func_name="training.networks_stylegan.G_style"),
                EasyDict(func_name="training.networks_stylegan.D_basic"))
    G = EasyDict(func_name="training.networks_stylegan2.G_main")
    D = EasyDict(func_name="training.networks_stylegan2.D_stylegan2")
    if stage != "config-f":
        G.fmap_base = D.fmap_base = 8 << 10  # As small as the original StyleGAN's.
    if stage in ("config-b", "config-c", "config-d"):
        G.synthesis_func = "G_synthesis_stylegan_revised"  # These support progressive growing.
        D.func_name = "training.networks_stylegan2.D_stylegan"
    for part in config_id.split("-")[2:]:
        (G if part[0] == "G" else D).architecture = part[1:]
    return G, D


def _check_minibatch(sched, num_gpus, num_workers):
    """Without per-resolution tables, the minibatch must split evenly over all GPUs."""
    if sched.get("minibatch_size_dict") or sched.get("minibatch_gpu_dict"):
        return
    total, per_gpu = sched.minibatch_size_base, sched.minibatch_gpu_base
    if total % (per_gpu * num_gpus * num_workers) == 0:
        return
    message = "--minibatch-size: %d is not a multiple of --minibatch-gpu (%d) x --num-gpus (%d)" % (total, per_gpu,
                                                                                                    num_gpus)
    raise UsageError(message + (" x %d workers" % num_workers if num_workers > 1 else ""))


def _config_setup(config_id, gamma, minibatch_size, minibatch_gpu, latent_size, mapping_layers):
    """(G_args, D_args, G_loss_args, D_loss_args, sched_args, loop kwargs) of --config `config_id`."""
    if config_id not in _valid_configs:
        raise UsageError("--config: unknown config %r (valid: %s)" % (config_id, ", ".join(_valid_configs)))
    stage = config_id[:8]
    growing = stage in ("config-a", "config-b", "config-c", "config-d")
    loop = EasyDict(lazy_regularization=False) if stage in ("config-a", "config-b") else EasyDict()
    G, D = _networks_of(config_id)
    if latent_size is not None:
        G.latent_size = G.dlatent_size = G.mapping_fmaps = latent_size
    if mapping_layers is not None:
        G.mapping_layers = mapping_layers
    G_loss = "G_logistic_ns" if stage in ("config-a", "config-b", "config-c") else "G_logistic_ns_pathreg"
    D_gamma = gamma if gamma is not None else (100 if stage == "config-e" else 10)
    sched = EasyDict(copy.deepcopy(dict(_DEFAULT_SCHEDULE, **(_GROWING_SCHEDULE if growing else {}))))
    # Minibatch options (e.g. for smaller GPUs) replace the per-resolution tables.
    if minibatch_size is not None:
        sched.update(minibatch_size_base=minibatch_size, minibatch_size_dict={})
    if minibatch_gpu is not None:
        sched.update(minibatch_gpu_base=minibatch_gpu, minibatch_gpu_dict={})
    return (G, D, EasyDict(func_name="training.loss." + G_loss),
            EasyDict(func_name="training.loss.D_logistic_r1", gamma=D_gamma), sched, loop)


def _ada_setup(cfg, resolution, num_gpus, gamma, minibatch_size, minibatch_gpu, latent_size, mapping_layers, freezed):
    """(G_args, D_args, G_loss_args, D_loss_args, sched_args, loop kwargs) of StyleGAN2-ADA's --cfg `cfg`."""
    if cfg not in _valid_cfgs:
        raise UsageError("--cfg: unknown preset %r (valid: %s)" % (cfg, ", ".join(_valid_cfgs)))
    spec = ada_preset(cfg, resolution, num_gpus)
    shared = dict(fmap_base=int(spec.fmaps * 16384), fmap_max=512, num_fp16_res=4, conv_clamp=256)
    G = EasyDict(func_name="training.networks.G_main", mapping_layers=spec.map, **shared)
    D = EasyDict(func_name="training.networks.D_main", mbstd_group_size=spec.mbstd, **shared)
    G_loss = EasyDict(func_name="training.loss.G_ada_pathreg")
    if cfg == "cifar":
        G_loss.pl_weight = 0
        G.style_mixing_prob = None
        D.architecture = "orig"
    if latent_size is not None:
        G.latent_size = G.dlatent_size = latent_size
    if mapping_layers is not None:
        G.mapping_layers = mapping_layers
    if freezed:
        D.freeze_layers = freezed
    mb = spec.mb if minibatch_size is None else minibatch_size
    mb_gpu = max(mb // spec.ref_gpus, 1) if minibatch_gpu is None else minibatch_gpu
    sched = EasyDict(G_lrate_base=spec.lrate, D_lrate_base=spec.lrate, minibatch_size_base=mb,
                     minibatch_gpu_base=mb_gpu, tick_kimg_base=4, tick_kimg_dict={})
    D_loss = EasyDict(func_name="training.loss.D_ada_r1", gamma=spec.gamma if gamma is None else gamma)
    loop = EasyDict(G_smoothing_kimg=spec.ema, G_smoothing_rampup=spec.ramp, total_kimg=spec.kimg)
    return G, D, G_loss, D_loss, sched, loop


def _augment_setup(aug, p, target, augpipe, config_id, kwargs, num_workers):
    """The training loop's augment_args (None: no augmentation object at all) and the run_desc parts of
    --aug, --p, --target and --augpipe. Switches config-e/f to the ADA losses when they augment."""
    ada_cfg = config_id is None
    if aug is None:
        aug = "ada" if ada_cfg else "noaug"
    if aug not in _AUG_MODES:
        raise UsageError("--aug: unknown mode %r (valid: %s)" % (aug, ", ".join(_AUG_MODES)))
    if p is not None and aug != "fixed":
        raise UsageError("--p: only with --aug=fixed")
    if aug == "fixed" and p is None:
        raise UsageError("--aug=fixed: needs --p")
    if p is not None and not 0 <= p <= 1:
        raise UsageError("--p: must be in [0, 1], got %g" % p)
    if target is not None and aug != "ada":
        raise UsageError("--target: only with --aug=ada")
    if target is not None and not 0 <= target <= 1:
        raise UsageError("--target: must be in [0, 1], got %g" % target)
    if augpipe is not None and aug == "noaug":
        raise UsageError("--augpipe: not with --aug=noaug")
    if augpipe is not None and augpipe not in _AUGPIPES:
        raise UsageError("--augpipe: unknown pipeline %r (valid: %s)" % (augpipe, ", ".join(_AUGPIPES)))
    if aug == "ada" and num_workers > 1:
        raise UsageError("--aug=ada: the adaptive p is not kept in step across workers; use --aug=fixed or noaug")
    if aug == "noaug":
        return (EasyDict() if ada_cfg else None), (["noaug"] if ada_cfg else [])
    if not ada_cfg:
        if config_id[:8] not in ("config-e", "config-f"):
            raise UsageError("--aug=%s: augmentation needs config-e, config-f or an ADA --cfg preset" % aug)
        kwargs.G_loss_args.func_name = "training.loss.G_ada_pathreg"
        kwargs.D_loss_args.func_name = "training.loss.D_ada_r1"
    from training.augment import augpipe_specs  # pylint: disable=import-outside-toplevel
    augpipe = "bgc" if augpipe is None else augpipe
    args = EasyDict(apply_func="training.augment.augment_pipeline", apply_args=dict(augpipe_specs[augpipe]))
    desc = [aug]
    if aug == "fixed":
        args.update(initial_strength=p)
        desc.append("p%g" % p)
    else:
        args.update(tune_heuristic="rt", tune_target=0.6 if target is None else target, tune_kimg=500)
        desc += ["target%g" % target] if target is not None else []
    return args, desc + [augpipe]


def build_training_kwargs(dataset, data_dir, result_dir, config_id, num_gpus, total_kimg, gamma, mirror_augment,
                          metrics, minibatch_size=None, minibatch_gpu=None, fmap_base=None, fmap_max=None,
                          latent_size=None, mapping_layers=None, snapshot_ticks=None, cond=False, worker_hosts=None,
                          worker_index=0, tick_kimg=None, cfg=None, resolution=None, aug=None, p=None, target=None,
                          augpipe=None, freezed=None):
    """The keyword arguments of `dnnlib.submit_run` for one training run (run_func_name, submit_config, and
    those of `training.training_loop.training_loop`). With `worker_hosts` (['host:port', ...]) this process is
    worker `worker_index` of a multi-worker run: `num_gpus` GPUs per worker, `minibatch_size` over all.
    `tick_kimg`: kimg per tick at every resolution (default: the schedule's, from 28 at 8x8 to 4 at 1024x1024).
    `cfg`: a StyleGAN2-ADA preset instead of `config_id` (the dataset's `resolution` needed); `aug`, `p`,
    `target`, `augpipe`: the augmentation (default: 'ada' with `cfg`, else 'noaug'); `freezed`: frozen D layers.
    `total_kimg` and `gamma` None: the config's or preset's."""
    unknown = [name for name in metrics if name not in metric_defaults]
    if unknown:
        raise UsageError("--metrics: unknown metric %r (known: %s, or none)" % (unknown[0], ", ".join(metric_defaults)))
    if num_gpus not in [1, 2, 4, 8]:
        raise UsageError("--num-gpus: must be 1, 2, 4 or 8, got %r" % (num_gpus,))
    num_workers = len(worker_hosts) if worker_hosts else 1
    if num_workers > 1 and not 0 <= worker_index < num_workers:
        raise UsageError("--worker-index: must be in [0, %d) for %d worker hosts, got %d"
                         % (num_workers, num_workers, worker_index))
    if cfg is not None and config_id is not None:
        raise UsageError("--cfg: an ADA preset replaces --config; give one of them")
    if freezed is not None and (cfg is None or freezed < 0):
        raise UsageError("--freezed: needs an ADA --cfg preset and a number >= 0" if cfg is None else
                         "--freezed: must be >= 0, got %d" % freezed)
    if cfg is None:
        config_id = "config-f" if config_id is None else config_id
        G, D, G_loss, D_loss, sched, loop = _config_setup(config_id, gamma, minibatch_size, minibatch_gpu, latent_size,
                                                          mapping_layers)
    else:
        G, D, G_loss, D_loss, sched, loop = _ada_setup(cfg, resolution, num_gpus * num_workers, gamma, minibatch_size,
                                                       minibatch_gpu, latent_size, mapping_layers, freezed)
    for key, value in [("fmap_base", fmap_base), ("fmap_max", fmap_max)]:
        if value is not None:
            G[key] = D[key] = value
    _check_minibatch(sched, num_gpus, num_workers)
    if tick_kimg is not None:
        sched.update(tick_kimg_base=tick_kimg, tick_kimg_dict={})

    kwargs = EasyDict(run_func_name="training.training_loop.training_loop", data_dir=data_dir,
                      mirror_augment=mirror_augment, total_kimg=25000)
    kwargs.update(loop)
    if total_kimg is not None:
        kwargs.total_kimg = total_kimg
    kwargs.image_snapshot_ticks = kwargs.network_snapshot_ticks = 10 if snapshot_ticks is None else snapshot_ticks
    if num_workers > 1:
        kwargs.update(worker_hosts=list(worker_hosts), worker_index=worker_index)
    dataset_args = EasyDict(tfrecord_dir=dataset)
    if cond:
        dataset_args.max_label_size = "full"  # A conditional G and D, with as many labels as the dataset has.
    kwargs.update(G_args=G, D_args=D, G_opt_args=EasyDict(_ADAM), D_opt_args=EasyDict(_ADAM), G_loss_args=G_loss,
                  D_loss_args=D_loss, dataset_args=dataset_args, sched_args=sched,
                  grid_args=EasyDict(size="8k", layout="random"),
                  metric_arg_list=[metric_defaults[name] for name in metrics], tf_config={"rnd.np_random_seed": 1000})
    augment_args, aug_desc = _augment_setup(aug, p, target, augpipe, config_id if cfg is None else None, kwargs,
                                           num_workers)
    if augment_args is not None:
        kwargs.augment_args = augment_args

    gpus = "%dx%dgpu" % (num_workers, num_gpus) if num_workers > 1 else "%dgpu" % num_gpus
    setup = config_id if cfg is None else cfg + ("%d" % (num_gpus * num_workers) if cfg == "auto" else "")
    desc = ["stylegan2", dataset] + (["cond"] if cond else []) + [gpus, setup] + aug_desc
    desc += ["freezed%d" % freezed] if freezed else []
    kwargs.submit_config = dnnlib.SubmitConfig()
    kwargs.submit_config.update(num_gpus=num_gpus, submit_target=dnnlib.SubmitTarget.LOCAL, run_dir_root=result_dir,
                                run_desc="-".join(desc))
    kwargs.submit_config.local.do_not_copy_source_files = True
    return kwargs


def workers_from_tf_config(value):
    """(worker hosts, worker index) from a TF_CONFIG JSON string: {"cluster": {"worker": ["host:port", ...]},
    "task": {"type": "worker", "index": i}}. A "chief" job, if any, is worker 0 and the workers follow it."""
    try:
        config = json.loads(value)
        cluster = config["cluster"]
        task = config["task"]
        chief = list(cluster.get("chief", []))
        hosts = chief + list(cluster.get("worker", []))
        task_type, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError("TF_CONFIG: not {\"cluster\": {\"worker\": [...]}, \"task\": {\"type\": \"worker\", "
                         "\"index\": i}} (%s)" % e)
    if task_type not in ("worker", "chief"):
        raise UsageError("TF_CONFIG: task type %r is not 'worker' or 'chief'" % task_type)
    if task_type == "worker":
        index += len(chief)
    if not hosts or not 0 <= index < len(hosts):
        raise UsageError("TF_CONFIG: task index %d is not in the cluster of %d workers" % (index, len(hosts)))
    return hosts, index


def run_worker(kwargs):
    """Worker > 0 of a multi-worker run: the training loop without a run dir (it prints to stdout only)."""
    kwargs = dict(kwargs)
    submit_config = kwargs.pop("submit_config")
    func_name = kwargs.pop("run_func_name")
    dnnlib.util.call_func_by_name(func_name=func_name, num_gpus=submit_config.num_gpus, submit_config=None,
                                  **kwargs)


def _numbered_runs(result_dir, run_desc):
    """The run dirs `<number>-<run_desc>` of `result_dir`, newest (highest number) first."""
    name = re.compile(r"^(\d+)-%s$" % re.escape(run_desc))
    entries = os.listdir(result_dir) if os.path.isdir(result_dir) else []
    runs = [(int(name.match(entry).group(1)), entry) for entry in entries
            if name.match(entry) and os.path.isdir(os.path.join(result_dir, entry))]
    return [entry for _, entry in sorted(runs, reverse=True)]


def find_resume_pkl(result_dir, run_desc):
    """For --resume=latest: the pickle that a run named `<number>-<run_desc>` in `result_dir` (the same
    dataset, config and GPU count) continues best (`training.resume.find_latest_snapshot`), from the newest
    such run that has one. Prints which one and why; a UsageError when there is none."""
    from training.resume import find_latest_snapshot, state_file_for_snapshot  # pylint: disable=import-outside-toplevel
    skipped = []
    for run in _numbered_runs(result_dir, run_desc):
        pkl = find_latest_snapshot(os.path.join(result_dir, run))
        if pkl is None:
            skipped.append(run)
            continue
        if not os.path.isfile(state_file_for_snapshot(pkl)):
            why = "its newest snapshot; it has no training state"
        elif os.path.basename(pkl).startswith("network-final"):
            why = "where that run stopped"
        else:
            why = "its newest snapshot with a training state"
        print("--resume=latest: %s of run %s (%s), the newest run of this dataset, config and GPU count that has a "
              "snapshot%s" % (os.path.basename(pkl), run, why,
                              " (newer runs without one: %s)" % ", ".join(skipped) if skipped else ""), flush=True)
        return pkl
    raise UsageError("--resume=latest: no network-snapshot-*.pkl in any run dir %s/<number>-%s"
                     % (result_dir, run_desc))


def dry_run(kwargs):
    """Print the configuration and the network tables, then return without training."""
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel
    from training import dataset  # pylint: disable=import-outside-toplevel
    printable = {key: value for key, value in kwargs.items() if key != "submit_config"}
    printable["num_gpus"] = kwargs.submit_config.num_gpus
    printable["run_desc"] = kwargs.submit_config.run_desc
    print("Training configuration:")
    pprint.pprint(printable, indent=2, width=120)
    tflib.init_tf(kwargs.tf_config)
    training_set = dataset.load_dataset(data_dir=kwargs.data_dir, verbose=True, **kwargs.dataset_args)
    shape_args = dict(num_channels=training_set.shape[0], resolution=training_set.shape[1],
                      label_size=training_set.label_size)
    G = tflib.Network("G", **shape_args, **kwargs.G_args)
    D = tflib.Network("D", **shape_args, **kwargs.D_args)
    G.print_layers()
    D.print_layers()
    print("Dry run: nothing trained.")


# ------------------------------------------------------------------------------------------------------

def _parse_comma_sep(value):
    if value is None or value.lower() == "none" or value == "":
        return []
    return value.split(",")


_examples = """examples:

  # config-f on FFHQ, 8 GPUs, with mirrored reals
  python %(prog)s --num-gpus=8 --data-dir=~/datasets --config=config-f --dataset=ffhq --mirror-augment=true

  # Continue the newest run of the same dataset/config/GPU count exactly where it stopped
  python %(prog)s --num-gpus=8 --data-dir=~/datasets --config=config-f --dataset=ffhq --mirror-augment=true --resume=latest

  # Two machines with 8 GPUs each (minibatch 32 over all 16 GPUs); run this on each, with its own index
  python %(prog)s --num-gpus=8 --data-dir=~/datasets --config=config-f --dataset=ffhq --mirror-augment=true \\
      --minibatch-size=32 --minibatch-gpu=2 --worker-hosts=node0:2222,node1:2222 --worker-index=0

valid configs:

  """ + ", ".join(_valid_configs) + """

valid metrics:

  """ + ", ".join(sorted(metric_defaults.keys())) + """
"""


def _enable_bfloat16():
    from dnnlib.tflib import precision  # pylint: disable=import-outside-toplevel  (imports TensorFlow)
    try:
        precision.set_bfloat16(True)
    except RuntimeError as e:
        raise UsageError("--bfloat16: %s" % e) from None


def _training_kwargs_from(args):
    """`build_training_kwargs` of the parsed command line, after the checks argparse cannot make; a
    UsageError names the option at fault."""
    if not os.path.isdir(args.data_dir):
        raise UsageError("--data-dir: %s is not a directory" % args.data_dir)
    if not os.path.isdir(os.path.join(args.data_dir, args.dataset)):
        raise UsageError("--dataset: %s not found in --data-dir %s" % (args.dataset, args.data_dir))
    for name, value in [("--minibatch-size", args.minibatch_size), ("--minibatch-gpu", args.minibatch_gpu),
                        ("--fmap-base", args.fmap_base), ("--fmap-max", args.fmap_max),
                        ("--latent-size", args.latent_size), ("--mapping-layers", args.mapping_layers),
                        ("--snapshot-ticks", args.snapshot_ticks)]:
        if value is not None and value < 1:
            raise UsageError("%s: must be >= 1, got %d" % (name, value))
    for name, value in [("--total-kimg", args.total_kimg), ("--tick-kimg", args.tick_kimg)]:
        if value is not None and not value > 0:
            raise UsageError("%s: must be > 0, got %g" % (name, value))
    worker_hosts, worker_index = None, 0
    if args.worker_hosts is not None:
        if args.worker_index is None:
            raise UsageError("--worker-hosts: needs --worker-index")
        from training.distributed import parse_worker_hosts  # pylint: disable=import-outside-toplevel
        try:
            worker_hosts = parse_worker_hosts(args.worker_hosts)
        except ValueError as e:
            raise UsageError("--worker-hosts: %s" % e) from None
        worker_index = args.worker_index
    elif args.worker_index is not None:
        raise UsageError("--worker-index: needs --worker-hosts")
    elif os.environ.get("TF_CONFIG"):
        worker_hosts, worker_index = workers_from_tf_config(os.environ["TF_CONFIG"])
    resolution = None
    if args.cfg is not None:  # The presets depend on the resolution.
        resolution = _check_dataset(args, EasyDict(max_label_size="full") if args.cond else {}).resolution
    kwargs = build_training_kwargs(
        dataset=args.dataset, data_dir=args.data_dir, result_dir=args.result_dir, config_id=args.config_id,
        num_gpus=args.num_gpus, total_kimg=args.total_kimg, gamma=args.gamma,
        mirror_augment=args.mirror_augment, metrics=args.metrics, minibatch_size=args.minibatch_size,
        minibatch_gpu=args.minibatch_gpu, fmap_base=args.fmap_base, fmap_max=args.fmap_max,
        latent_size=args.latent_size, mapping_layers=args.mapping_layers, snapshot_ticks=args.snapshot_ticks,
        cond=args.cond, worker_hosts=worker_hosts, worker_index=worker_index, tick_kimg=args.tick_kimg,
        cfg=args.cfg, resolution=resolution, aug=args.aug, p=args.p, target=args.target, augpipe=args.augpipe,
        freezed=args.freezed)
    pathreg = kwargs.G_loss_args.func_name.endswith("_pathreg") and kwargs.G_loss_args.get("pl_weight") != 0
    if pathreg and kwargs.sched_args.minibatch_gpu_base < 2 and not kwargs.sched_args.get("minibatch_gpu_dict"):
        raise UsageError("--minibatch-gpu: %s's path length regularization runs on half the per-GPU batch, so "
                         "it must be at least 2, got %d" % (args.cfg or args.config_id or "config-f",
                                                            kwargs.sched_args.minibatch_gpu_base))
    _check_dataset(args, kwargs.dataset_args)
    if args.resume is not None:
        kwargs.update(_resume_args(args, kwargs.submit_config.run_desc, kwargs.get("augment_args"), kwargs.total_kimg))
    if worker_index == 0:  # Only worker 0 evaluates metrics.
        _check_metric_networks(args.metrics)
    return kwargs


def _check_metric_networks(metric_names):
    """A UsageError unless the feature network of each metric can be had (download cache, local file, or a
    download that answers): better now than at the first snapshot."""
    if not metric_names:
        return
    from metrics import metric_base  # pylint: disable=import-outside-toplevel
    try:
        metric_base.check_feature_nets(metric_names, skip_hint="use --metrics=none")
    except metric_base.MetricError as e:
        raise UsageError(str(e)) from None


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _holds_images(folder):
    """Are there image files in `folder` or its sub-folders (the first 100 folders looked at)?"""
    for _, _, names in itertools.islice(os.walk(folder), 100):
        if any(name.lower().endswith(_IMAGE_SUFFIXES) for name in names):
            return True
    return False


def _check_dataset(args, dataset_args):
    """The dataset reads as training will read it (a UsageError if not), and has labels if --cond asks for them.
    Returns what `training.dataset.check_dataset` found (resolution, channels, label_size, label_file)."""
    folder = os.path.join(args.data_dir, args.dataset)
    if not glob.glob(os.path.join(folder, "*.tfrecords")):
        if _holds_images(folder):
            raise UsageError("--dataset: %s holds images, not a dataset (no .tfrecords files); convert them first: "
                             "python dataset_tool.py create_from_images %s-tfr %s, then train with --dataset=%s-tfr"
                             % (folder, folder.rstrip("/\\"), folder, args.dataset.rstrip("/\\")))
        raise UsageError("--dataset: %s has no .tfrecords files; dataset_tool.py makes a dataset (e.g. "
                         "create_from_images)" % folder)
    from training import dataset  # pylint: disable=import-outside-toplevel
    options = {key: value for key, value in dataset_args.items() if key != "tfrecord_dir"}
    try:
        found = dataset.check_dataset(folder, **options)
    except dataset.DatasetError as e:
        raise UsageError("--dataset: %s" % e) from None
    if args.cond and found.label_size == 0:
        raise UsageError("--cond=true: dataset %s has no labels (no *.labels file; dataset_tool.py "
                         "create_from_images --labels-from-subdirs makes one), so it cannot train a conditional "
                         "network" % folder)
    return found


def _check_progress_left(resume_pkl, state_file, resume_kimg, total_kimg):
    """A UsageError when the run to continue is already at `total_kimg` (its training state's progress, else
    `resume_kimg`), or its training state file cannot be read: better now than after building the graph."""
    from training import resume  # pylint: disable=import-outside-toplevel
    start_kimg = resume_kimg
    if state_file is not None and os.path.isfile(state_file):
        try:
            start_kimg = resume.TrainingState.load(state_file).cur_nimg / 1000.0
        except (OSError, ValueError) as e:
            raise UsageError("--resume: %s" % e) from None
    if total_kimg is not None and start_kimg >= total_kimg:
        raise UsageError("--resume: %s is at %g kimg, already at --total-kimg %g: nothing left to train (give a "
                         "larger --total-kimg to train on)" % (resume_pkl, start_kimg, total_kimg))


def _resume_args(args, run_desc, augment_args=None, total_kimg=None):
    """The training loop's resume arguments for --resume (a path, URL, 'latest' or a transfer-learning source),
    its pickle checked. A transfer source gives new networks its values at kimg 0, with the EMA ramp-up off;
    it and a pickle without a training state restart p at 0 moving at tune_kimg 100 (in `augment_args`)."""
    from dnnlib.tflib import network_pickle  # pylint: disable=import-outside-toplevel
    from training import resume  # pylint: disable=import-outside-toplevel
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    resume_pkl = args.resume
    sources = pretrained_networks.transfer_learning_sources
    transfer = resume_pkl in sources
    if transfer:
        resume_pkl = sources[resume_pkl]
    elif resume_pkl == "latest":
        resume_pkl = find_resume_pkl(args.result_dir, run_desc)
    elif not dnnlib.util.is_url(resume_pkl, allow_file_urls=True) and not os.path.isfile(resume_pkl):
        raise UsageError("--resume: %s: no such file" % resume_pkl)
    try:
        network_pickle.check(resume_pkl, allow_code_execution=args.allow_code_execution)
    except network_pickle.NetworkPickleError as e:
        raise UsageError("--resume: %s" % e) from None
    state_file = None if dnnlib.util.is_url(resume_pkl) else resume.state_file_for_snapshot(resume_pkl)
    if augment_args and (transfer or state_file is None or not os.path.isfile(state_file)):
        augment_args["tune_kimg"] = 100
    if transfer:
        print("Transfer learning from %s (%s): its values in new networks, from kimg 0" % (args.resume, resume_pkl))
        return dict(resume_pkl=resume_pkl, resume_kimg=0.0, resume_with_new_nets=True, G_smoothing_rampup=None,
                    resume_allow_code_execution=args.allow_code_execution)
    resume_kimg = args.resume_kimg
    if resume_kimg is None:  # Used only when there is no training state: the snapshot's name tells the kimg.
        resume_kimg = resume.kimg_in_snapshot_name(resume_pkl) or 0.0
    _check_progress_left(resume_pkl, state_file, resume_kimg, total_kimg)
    print("Resuming from %s" % resume_pkl)
    return dict(resume_pkl=resume_pkl, resume_kimg=float(resume_kimg), resume_state="auto",
                resume_allow_code_execution=args.allow_code_execution)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train StyleGAN2.", epilog=_examples,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--result-dir", help="Root directory for run results (default: %(default)s)",
                        default="results", metavar="DIR")
    parser.add_argument("--data-dir", help="Dataset root directory", required=True)
    parser.add_argument("--dataset", help="Training dataset", required=True)
    parser.add_argument("--config", help="Training config (default: config-f, unless --cfg is given)", default=None,
                        dest="config_id", metavar="CONFIG")
    parser.add_argument("--cfg", help="StyleGAN2-ADA preset instead of --config: " + ", ".join(_valid_cfgs) +
                        " (ADA networks, mixed precision, presets of minibatch, gamma, EMA, learning rate)",
                        default=None, metavar="PRESET")
    parser.add_argument("--aug", help="Augmentation before D: ada (adaptive p), fixed (p = --p) or noaug "
                        "(default: ada with --cfg, else noaug)", default=None, metavar="MODE")
    parser.add_argument("--p", help="--aug=fixed: the augmentation probability, 0..1", default=None, type=finite_float)
    parser.add_argument("--target", help="--aug=ada: the r_t that p aims at, 0..1 (default: 0.6)", default=None,
                        type=finite_float)
    parser.add_argument("--augpipe", help="Augmentation pipeline: " + ", ".join(_AUGPIPES) + " (default: bgc)",
                        default=None, metavar="PIPE")
    parser.add_argument("--freezed", help="With --cfg: freeze this many of D's first layers (default: 0)",
                        default=None, type=int, metavar="N")
    parser.add_argument("--num-gpus", help="Number of GPUs (default: %(default)s)", default=1, type=int, metavar="N")
    parser.add_argument("--total-kimg", help="Training length in thousands of images (default: 25000; cifar "
                        "preset: 100000)", metavar="KIMG", default=None, type=float)
    parser.add_argument("--gamma", help="R1 regularization weight (default is config dependent)", default=None,
                        type=float)
    parser.add_argument("--mirror-augment", help="Mirror augment (default: %(default)s)", default=False,
                        metavar="BOOL", type=str_to_bool)
    parser.add_argument("--metrics", help="Comma-separated list of metrics or \"none\" (default: %(default)s)",
                        default="fid50k", type=_parse_comma_sep)
    parser.add_argument("--minibatch-size", help="Minibatch size over all GPUs (default is config dependent)",
                        default=None, type=int, metavar="N")
    parser.add_argument("--minibatch-gpu", help="Minibatch per GPU; smaller ones accumulate gradients "
                        "(default is config dependent)", default=None, type=int, metavar="N")
    parser.add_argument("--resume", help="Network pickle (path or URL) to resume from, or 'latest': where the "
                        "newest run with the same dataset, config and GPU count stopped (network-final.pkl after "
                        "abort.txt, else its newest snapshot), continued exactly from its training state; or a "
                        "transfer-learning source (ffhq256, ffhq512, ffhq1024, celebahq256, lsundog256): its "
                        "values in new networks, from kimg 0",
                        default=None, metavar="PKL")
    parser.add_argument("--resume-kimg", help="Training progress of a --resume pickle that has no training "
                        "state (default: the kimg in a network-snapshot-<kimg>.pkl name, else 0)", default=None,
                        type=float, metavar="KIMG")
    parser.add_argument("--allow-code-execution", action="store_true", dest="allow_code_execution", default=None,
                        help="Let the --resume pickle run the network code it embeds (only for files you trust; "
                             "official downloads always may)")
    parser.add_argument("--cond", help="Train a conditional network on the dataset's labels (default: %(default)s)",
                        default=False, metavar="BOOL", type=str_to_bool)
    parser.add_argument("--fmap-base", help="Feature maps: fmap_base of G and D (default is config dependent)",
                        default=None, type=int, metavar="N")
    parser.add_argument("--fmap-max", help="Feature maps: at most this many per layer in G and D (default: 512)",
                        default=None, type=int, metavar="N")
    parser.add_argument("--latent-size", help="Size of z, w and the mapping layers (default: 512)", default=None,
                        type=int, metavar="N")
    parser.add_argument("--mapping-layers", help="Number of mapping layers (default: 8)", default=None, type=int,
                        metavar="N")
    parser.add_argument("--snapshot-ticks", help="Image and network snapshot interval in ticks (default: 10)",
                        default=None, type=int, metavar="N")
    parser.add_argument("--tick-kimg", help="Length of a tick (a progress line) in kimg (default: by resolution, "
                        "28 at 8x8, 24 at 16x16, 20 at 32x32, 16 at 64x64, ... 4 at 1024x1024)", default=None,
                        type=float, metavar="KIMG")
    parser.add_argument("--worker-hosts", help="Multi-worker training: host:port of every worker, comma-separated "
                        "(default: from TF_CONFIG, else one process)", default=None, metavar="LIST")
    parser.add_argument("--worker-index", help="Multi-worker training: this worker's index in --worker-hosts; "
                        "worker 0 writes the run dir", default=None, type=int, metavar="I")
    parser.add_argument("--bfloat16", help="Convolutions and matrix products in bfloat16, variables and the rest "
                        "in float32: faster on CPUs with AVX512_BF16 or AMX (default: %(default)s)", default=False,
                        metavar="BOOL", type=str_to_bool)
    parser.add_argument("--dry-run", help="Print the configuration and the network tables, then exit",
                        action="store_true")
    args = parser.parse_args(argv)

    try:
        kwargs = _training_kwargs_from(args)
        if args.bfloat16:
            _enable_bfloat16()
    except UsageError as e:
        print("run_training.py: error: %s" % e, file=sys.stderr)
        return 2

    if args.dry_run:
        dry_run(kwargs)
        return 0

    from training.training_loop import TrainingDivergedError  # pylint: disable=import-outside-toplevel
    try:
        if kwargs.get("worker_index", 0) > 0:
            run_worker(kwargs)
        else:
            dnnlib.submit_run(**kwargs)
    except TrainingDivergedError as e:
        print("run_training.py: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
