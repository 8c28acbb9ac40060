"""The named metrics and their arguments: the official ones, KID as in StyleGAN2-ADA, `_full` variants
that compare against every image of the dataset, and `_fmnist` ones that need no download. Use
`metric_defaults[name]` with `MetricGroup` or `dnnlib.util.call_func_by_name(**metric_defaults[name])`."""

from dnnlib import EasyDict

_PPL_GS_OVERRIDES = dict(dtype="float32", mapping_dtype="float32")
_FID = "metrics.frechet_inception_distance.FID"
_IS = "metrics.inception_score.IS"
_PPL = "metrics.perceptual_path_length.PPL"
_LS = "metrics.linear_separability.LS"
_PR = "metrics.precision_recall.PR"
_KID = "metrics.kernel_inception_distance.KID"
_ACC = "metrics.classifier_accuracy.ClassAccuracy"
_SPREAD = "metrics.class_spread.ClassSpread"
# Offline: in the 128 features of this project's Fashion-MNIST classifier (networks/fmnist-classifier.pkl),
# for 32x32 1-channel networks; a conditional network's classes come equally often (1,000 of each in 10k).
_FMNIST = dict(feature_net="fmnist", class_balanced=True)

metric_defaults = EasyDict([(args.name, args) for args in [
    EasyDict(name="fid50k", func_name=_FID, num_images=50000, minibatch_per_gpu=8),
    EasyDict(name="is50k", func_name=_IS, num_images=50000, num_splits=10, minibatch_per_gpu=8),
    EasyDict(name="ppl_zfull", func_name=_PPL, num_samples=50000, epsilon=1e-4, space="z", sampling="full", crop=True,
             minibatch_per_gpu=4, Gs_overrides=_PPL_GS_OVERRIDES),
    EasyDict(name="ppl_wfull", func_name=_PPL, num_samples=50000, epsilon=1e-4, space="w", sampling="full", crop=True,
             minibatch_per_gpu=4, Gs_overrides=_PPL_GS_OVERRIDES),
    EasyDict(name="ppl_zend", func_name=_PPL, num_samples=50000, epsilon=1e-4, space="z", sampling="end", crop=True,
             minibatch_per_gpu=4, Gs_overrides=_PPL_GS_OVERRIDES),
    EasyDict(name="ppl_wend", func_name=_PPL, num_samples=50000, epsilon=1e-4, space="w", sampling="end", crop=True,
             minibatch_per_gpu=4, Gs_overrides=_PPL_GS_OVERRIDES),
    EasyDict(name="ppl2_wend", func_name=_PPL, num_samples=50000, epsilon=1e-4, space="w", sampling="end", crop=False,
             minibatch_per_gpu=4, Gs_overrides=_PPL_GS_OVERRIDES),
    EasyDict(name="ls", func_name=_LS, num_samples=200000, num_keep=100000, attrib_indices=range(40),
             minibatch_per_gpu=4),
    EasyDict(name="pr50k3", func_name=_PR, num_images=50000, nhood_size=3, minibatch_per_gpu=8, row_batch_size=10000,
             col_batch_size=10000),
    # As StyleGAN2-ADA's kid50k: 50k generated and 50k real images, 100 subsets of 1000.
    EasyDict(name="kid50k", func_name=_KID, num_images=50000, minibatch_per_gpu=8, num_subsets=100,
             max_subset_size=1000),
    # Against every real image (at most 1M for KID, 200k for PR, as in StyleGAN2-ADA), 50k generated.
    EasyDict(name="fid50k_full", func_name=_FID, num_images=50000, minibatch_per_gpu=8, num_reals="all"),
    EasyDict(name="kid50k_full", func_name=_KID, num_images=50000, minibatch_per_gpu=8, num_subsets=100,
             max_subset_size=1000, num_reals="all", max_reals=1000000),
    EasyDict(name="pr50k3_full", func_name=_PR, num_images=50000, nhood_size=3, minibatch_per_gpu=8,
             row_batch_size=10000, col_batch_size=10000, num_reals="all", max_reals=200000),
    # 10k generated images against every real image of the dataset (PR: the first 10k in file order).
    EasyDict(name="fid10k_fmnist", func_name=_FID, num_images=10000, minibatch_per_gpu=50, num_reals="all", **_FMNIST),
    EasyDict(name="kid10k_fmnist", func_name=_KID, num_images=10000, minibatch_per_gpu=50, num_subsets=100,
             max_subset_size=1000, num_reals="all", **_FMNIST),
    EasyDict(name="pr10k3_fmnist", func_name=_PR, num_images=10000, nhood_size=3, minibatch_per_gpu=50,
             row_batch_size=10000, col_batch_size=10000, num_reals="all", max_reals=10000, **_FMNIST),
    EasyDict(name="acc10k_fmnist", func_name=_ACC, num_images=10000, minibatch_per_gpu=50, **_FMNIST),
    # Within-class spread of the fakes over that of every real image (by its label): 1 = as varied as the data.
    EasyDict(name="spread10k_fmnist", func_name=_SPREAD, num_images=10000, minibatch_per_gpu=50, **_FMNIST),
]])
