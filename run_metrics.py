"""Evaluate metrics (FID, IS, PPL, PR, LS, KID, class accuracy) of a network pickle against a dataset.

Results are printed, written to `<result-dir>/<NNNNN>-run-metrics/log.txt`, and appended to
`metric-<name>.txt` in that run dir.
"""

import argparse
import os
import sys

import dnnlib
from dnnlib import cli
from metrics.metric_defaults import metric_defaults

# TensorFlow and the modules that import it are imported inside the functions that use them, so that
# --help and usage errors answer at once.


def run(network_pkl, metrics, dataset, data_dir, mirror_augment, allow_code_execution=None):
    """The run function (inside a run dir): evaluate each of `metrics` (names) on `network_pkl`."""
    from metrics import metric_base  # pylint: disable=import-outside-toplevel
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel
    print('Evaluating metrics "%s" for "%s"...' % (",".join(metrics), network_pkl))
    tflib.init_tf()
    group = metric_base.MetricGroup([metric_defaults[name] for name in metrics])
    # Reals in file order, so that every evaluation sees the same real images. A metric that fails does
    # not stop the others: their results are kept, and the run then ends with an error naming it.
    failures = group.run_each(pretrained_networks.get_path_or_url(network_pkl), run_dir=dnnlib.make_run_dir_path(),
                              data_dir=data_dir, dataset_args=dnnlib.EasyDict(tfrecord_dir=dataset, shuffle_mb=0),
                              mirror_augment=mirror_augment, num_gpus=dnnlib.submit_config.num_gpus,
                              allow_code_execution=allow_code_execution)
    if failures:
        raise metric_base.MetricError("; ".join("%s failed: %s" % failure for failure in failures))


def _parse_metric_names(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in metric_defaults]
    if unknown or not names:
        raise argparse.ArgumentTypeError("unknown metric %s; known: %s" % (",".join(unknown) or repr(text),
                                                                            ", ".join(metric_defaults)))
    return names


def _check_inputs(network_pkl, metrics, dataset, data_dir, allow_code_execution):
    """Raise NetworkPickleError / DatasetError / MetricError (one line) before any run dir is made."""
    import dnnlib.tflib as tflib  # pylint: disable=import-outside-toplevel
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    import pretrained_networks  # pylint: disable=import-outside-toplevel
    from metrics import metric_base  # pylint: disable=import-outside-toplevel
    from training import dataset as dataset_module  # pylint: disable=import-outside-toplevel
    if not os.path.isdir(data_dir):
        raise metric_base.MetricError("dataset root directory %s does not exist" % data_dir)
    dataset_module.list_tfrecord_files(os.path.join(data_dir, dataset))
    # Each metric's feature networks: in the download cache, a local file, or a download that answers now.
    metric_base.check_feature_nets(metrics, skip_hint="leave the metric out of --metrics")
    # Load the network once in a throwaway graph: a missing file, an unreachable URL or a broken pickle is
    # reported now (downloads are cached for the evaluation).
    with tf.Graph().as_default(), tflib.create_session().as_default():
        metric_base.MetricBase._load_generator(pretrained_networks.get_path_or_url(network_pkl),  # pylint: disable=protected-access
                                               allow_code_execution=allow_code_execution)


_examples = """examples:

  python %(prog)s --data-dir=~/datasets --network=gdrive:networks/stylegan2-ffhq-config-f.pkl --metrics=fid50k,ppl_wend --dataset=ffhq --mirror-augment=true

  # Offline, a Fashion-MNIST network against the real test set (dataset_tool.py create_mnist --split=test)
  python %(prog)s --data-dir=~/datasets --network=my-fmnist.pkl --metrics=fid10k_fmnist,acc10k_fmnist --dataset=fmnist-test

available metrics:
  fid50k, fid50k_full  Frechet Inception Distance (50k generated; 50k / all real images)
  is50k                Inception Score
  ppl_zfull, ppl_wfull, ppl_zend, ppl_wend, ppl2_wend
                       Perceptual Path Length in Z/W, full paths/endpoints (ppl2: no crop)
  ls                   Linear Separability (CelebA-HQ attribute classifiers)
  pr50k3, pr50k3_full  Precision and Recall (k = 3)
  kid50k, kid50k_full  Kernel Inception Distance
  fid10k_fmnist, kid10k_fmnist, pr10k3_fmnist, acc10k_fmnist, spread10k_fmnist
                       32x32 1-channel networks (Fashion-MNIST), no download: FID, KID, precision/recall
                       in the features of networks/fmnist-classifier.pkl, the fraction of images the
                       classifier assigns to the class asked for (10k generated, classes equally often),
                       and the within-class spread of the features over the real images' (1 = as varied)

feature networks are downloaded from NVIDIA's server into $STYLEGAN2_CACHE_DIR (default .stylegan2-cache);
set $STYLEGAN2_METRICS_DIR to a folder (or URL prefix) holding local copies of the same file names.
The *_fmnist metrics use the classifier shipped in networks/ (train_fmnist_classifier.py made it).
"""


def main(argv=None):
    parser = cli.ArgumentParser(description="Run StyleGAN2 metrics.", epilog=_examples,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--result-dir", help="Root directory for run results (default: %(default)s)", default="results", metavar="DIR")
    parser.add_argument("--network", help="Network pickle: path, URL or gdrive:networks/<name>.pkl", dest="network_pkl", required=True)
    parser.add_argument("--metrics", help="Metrics to compute, comma-separated (default: %(default)s)", default="fid50k", type=_parse_metric_names)
    parser.add_argument("--dataset", help="Training dataset (folder name under --data-dir)", required=True)
    parser.add_argument("--data-dir", help="Dataset root directory", required=True)
    parser.add_argument("--mirror-augment", help="Mirror augment (default: %(default)s)", default=False, type=cli.str_to_bool, metavar="BOOL")
    parser.add_argument("--num-gpus", help="Number of GPUs to use (default: %(default)s)", type=int, default=1, metavar="N")
    parser.add_argument("--allow-code-execution", action="store_true", dest="allow_code_execution", default=None,
                        help="Let the network pickle run the code it embeds (only for files you trust; official "
                             "downloads always may)")
    args = parser.parse_args(argv)
    kwargs = vars(args)
    if isinstance(kwargs["metrics"], str):
        kwargs["metrics"] = _parse_metric_names(kwargs["metrics"])  # argparse does not convert the default.
    kwargs["data_dir"] = os.path.expanduser(kwargs["data_dir"])

    import dnnlib.tflib  # noqa: F401  pylint: disable=import-outside-toplevel  (first: it quiets TensorFlow's start-up)
    from metrics import metric_base  # pylint: disable=import-outside-toplevel
    from training import dataset as dataset_module  # pylint: disable=import-outside-toplevel
    from training import misc  # pylint: disable=import-outside-toplevel
    errors = (misc.NetworkPickleError, dataset_module.DatasetError, metric_base.MetricError)
    try:
        _check_inputs(kwargs["network_pkl"], kwargs["metrics"], kwargs["dataset"], kwargs["data_dir"],
                      kwargs["allow_code_execution"])
        # The evaluation's own errors (a feature network that cannot be downloaded, ...) end the same way.
        cli.run_in_new_run_dir("run_metrics.run", result_dir=kwargs.pop("result_dir"), run_desc="run-metrics",
                               num_gpus=kwargs.pop("num_gpus"), **kwargs)
    except errors as e:
        return cli.report_error(parser.prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
