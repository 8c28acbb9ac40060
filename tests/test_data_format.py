"""Execution layout of the networks: NCHW (the official layout) or NHWC inside, NCHW images outside.

* The choice: automatic (NHWC without a GPU), STYLEGAN2_DATA_FORMAT, the `data_format` build kwarg;
  the graph really runs in the chosen layout.
* The official reference numbers (networks and layers) in both layouts.
* The same variables give the same outputs and gradients in both layouts: G/D of every architecture,
  grayscale, conditional, progressive growing at a fractional lod, StyleGAN1.
* Pickles do not store the layout: a network saved in one layout loads and runs in the other.
* Fused modulated convolution is the non-fused form where grouped convolutions are missing or slow (CPUs).
* The network modules import and use only what the official code's dnnlib offers (its loader
  executes their source from our pickles).
"""

import ast
import contextlib
import io
import json
import os
import pickle

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from dnnlib.tflib import network_pickle
from dnnlib.tflib.network import Network
from dnnlib.tflib.network_pickle import load_network_pickle
from training import networks_stylegan as nets1
from training import networks_stylegan2 as nets2

import reference_nets

ENV = 'STYLEGAN2_DATA_FORMAT'
LAYOUTS = ['NCHW', 'NHWC']
MODULE = 'training.networks_stylegan2.'
TINY_G = dict(num_channels=3, resolution=16, label_size=0, fmap_base=128, fmap_max=32, latent_size=32,
              dlatent_size=32, mapping_fmaps=32, mapping_layers=2)
TINY_D = dict(num_channels=3, resolution=16, label_size=0, fmap_base=128, fmap_max=32)
SMALL_STYLEGAN1 = dict(num_channels=3, resolution=16, fmap_base=64, fmap_max=16, latent_size=8, dlatent_size=8,
                       mapping_fmaps=8, mapping_layers=2)


@pytest.fixture(autouse=True)
def _no_layout_env(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


def gpu_visible():
    return len(tf.config.experimental.list_physical_devices('GPU')) > 0


def skip_without_nchw():
    # NCHW convolutions and grouped convolutions come together: from a GPU, or on a CPU from oneDNN
    # (TF 2.x); TF 1.15 and TF 2.x without oneDNN have neither on a CPU.
    if not nets2.grouped_conv_supported():
        pytest.skip('NCHW convolutions need a GPU or oneDNN')


def assert_close(got, want, name, rtol=1e-4):
    assert got.shape == want.shape, '%s: shape %s, expected %s' % (name, got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(np.abs(want).max(), 1e-3), err_msg=name)


@contextlib.contextmanager
def new_ops(record):
    """Collect into `record` the ops that the block adds to the default graph."""
    graph = tf.get_default_graph()
    start = len(graph.get_operations())
    yield
    record.extend(graph.get_operations()[start:])


def layouts_used(ops):
    """The data_format attributes of the ops (convolutions, pooling, ...) that have one."""
    formats = set()
    for op in ops:
        if 'data_format' in op.node_def.attr:
            formats.add(op.get_attr('data_format').decode())
    return formats


def randomize(net, seed):
    """Random values for every variable (biases, noise strengths, dlatent_avg too) except lod."""
    rnd = np.random.RandomState(seed)
    values = {}
    for name, var in net.vars.items():
        if name.endswith('lod'):
            continue
        shape = var.shape.as_list()
        leaf = name.split('/')[-1]
        scale = 1.0 if leaf in ('weight', 'const') or (leaf.startswith('noise') and leaf != 'noise_strength') else 0.2
        values[var] = scale * rnd.randn(*shape)
    tflib.set_vars(values)


# ----------------------------------------------------------------------------------------------------
# Choosing the layout.


@pytest.mark.parametrize('nets', [nets2, nets1], ids=['stylegan2', 'stylegan'])
def test_auto_choice_environment_and_argument(monkeypatch, nets):
    auto = 'NCHW' if gpu_visible() else 'NHWC'
    assert nets.resolve_data_format() == auto and nets.resolve_data_format('auto') == auto
    for value, want in [('NCHW', 'NCHW'), ('NHWC', 'NHWC'), ('auto', auto), ('', auto)]:
        monkeypatch.setenv(ENV, value)
        assert nets.resolve_data_format() == want, value
        assert nets.resolve_data_format(None) == want, value
    monkeypatch.setenv(ENV, 'NCHW')
    assert nets.resolve_data_format('NHWC') == 'NHWC'  # The argument wins over the environment.
    monkeypatch.setenv(ENV, 'nhwc')
    with pytest.raises(ValueError, match="STYLEGAN2_DATA_FORMAT must be 'NCHW', 'NHWC' or 'auto', got 'nhwc'"):
        nets.resolve_data_format()
    with pytest.raises(ValueError, match='data_format must be'):
        nets.resolve_data_format('NHCW')


@pytest.mark.slow_on_tf1  # Builds only; TF 1.x runs NHWC alone, checked by the tests below.
def test_the_graph_runs_in_the_chosen_layout(sess, monkeypatch):
    G = Network('G', func_name=MODULE + 'G_main', **TINY_G)
    D = Network('D', func_name=MODULE + 'D_stylegan2', **TINY_D)
    z = tf.zeros([2, 32])

    def layouts(**kwargs):
        ops = []
        with new_ops(ops):
            D.get_output_for(G.get_output_for(z, None, **kwargs), None, **kwargs)
        return layouts_used(ops)

    assert ('NCHW' in layouts()) == gpu_visible()
    # NCHW: the plain convolutions run in NCHW (the resampling convolutions run in NHWC in either layout).
    monkeypatch.setenv(ENV, 'NCHW')
    assert 'NCHW' in layouts()
    assert layouts(data_format='NHWC') == {'NHWC'}

    G1 = Network('G1', func_name='training.networks_stylegan.G_style', **SMALL_STYLEGAN1)
    ops = []
    with new_ops(ops):
        G1.get_output_for(z[:, :8], None, data_format='NHWC')
    assert layouts_used(ops) == {'NHWC'}


# ----------------------------------------------------------------------------------------------------
# Reference numbers of the official code in both layouts.


@pytest.mark.slow_on_tf1  # TF 1.x has NHWC only, where test_networks_stylegan2 checks the same numbers.
@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('folder', ['tiny-Gskip-Dresnet', 'tiny-cond4', 'tiny-gray'])
def test_reference_networks_in_both_layouts(sess, reference, monkeypatch, folder, layout):
    if layout == 'NCHW':
        skip_without_nchw()
    monkeypatch.setenv(ENV, layout)
    G, D, Gs = reference_nets.build_reference_networks(reference, folder)
    meta = reference_nets.load_meta(reference, folder)
    load = lambda name: np.load(os.path.join(reference, folder, name + '.npy'))
    z = load('z')
    labels = load('labels') if meta['G_static_kwargs']['label_size'] else None

    ops = []
    with new_ops(ops):
        synth = Gs.components.synthesis.run(load('dlatents'), randomize_noise=False)
        images = Gs.run(z, labels, randomize_noise=False, truncation_psi=0.5)
        scores = D.run(load('D_rand_images'), labels)
    assert layouts_used(ops) == ({'NCHW', 'NHWC'} if layout == 'NCHW' else {'NHWC'})
    assert_close(synth, load('synth_from_dlatents'), 'synth_from_dlatents', rtol=1e-5)
    assert_close(images, load('pklnoise_psi0.5'), 'pklnoise_psi0.5', rtol=1e-5)
    assert_close(scores, load('D_scores_on_rand'), 'D_scores_on_rand', rtol=1e-5)


def to_nhwc(x):
    return np.transpose(x, [0, 2, 3, 1])


def to_nchw(x):
    return np.transpose(x, [0, 3, 1, 2])


@pytest.mark.parametrize('grouped', [True, False], ids=['grouped', 'not_grouped'])
def test_reference_layers_in_nhwc(sess, reference, monkeypatch, grouped):
    """pieces/layers (NCHW numbers) through the NHWC layers: modulated convolution (fused and not,
    up/down; fused as a grouped convolution or not) with its gradients, and minibatch stddev. The NCHW
    layers are checked in test_networks_stylegan2."""
    if grouped and not nets2.grouped_conv_supported():
        pytest.skip('grouped convolutions need a GPU or oneDNN')
    monkeypatch.setattr(nets2, 'use_grouped_conv', lambda: grouped)
    folder = os.path.join(reference, 'pieces', 'layers')
    cases = json.load(open(os.path.join(folder, 'cases.json')))
    data = np.load(os.path.join(folder, 'modulated_conv2d.npz'))
    x_in = tf.placeholder(tf.float32, [None] + list(to_nhwc(data['x']).shape[1:]))
    y_in = tf.placeholder(tf.float32, [None, data['y'].shape[1]])
    fetches, assigns = {}, {}
    for case in cases['modulated_conv2d']:
        name = case['name']
        with tf.variable_scope(name):
            out = nets2.modulated_conv2d_layer(x_in, y_in, case['fmaps'], case['kernel'], up=case['up'],
                                               down=case['down'], demodulate=case['demodulate'],
                                               resample_kernel=case['resample_kernel'],
                                               fused_modconv=case['fused_modconv'], data_format='NHWC')
        with tf.variable_scope(name, reuse=True):
            variables = [tf.get_variable(v) for v in ['weight', 'mod_weight', 'mod_bias']]
        assigns.update({var: data['vars_k%d/%s' % (case['kernel'], v)]
                        for var, v in zip(variables, ['weight', 'mod_weight', 'mod_bias'])})
        loss = tf.reduce_sum(out * to_nhwc(data[name + '/R']))
        fetches[name] = [out] + tf.gradients(loss, [x_in, y_in] + variables)
    tflib.set_vars(assigns)
    results = sess.run(fetches, {x_in: to_nhwc(data['x']), y_in: data['y']})
    for name, (out, dx, dy, d_weight, d_mod_weight, d_mod_bias) in results.items():
        want = lambda key: data['%s/%s' % (name, key)]
        assert_close(to_nchw(out), want('y'), name + '/y')
        assert_close(to_nchw(dx), want('dx'), name + '/dx')
        for key, got in [('dy', dy), ('d_weight', d_weight), ('d_mod_weight', d_mod_weight),
                         ('d_mod_bias', d_mod_bias)]:
            assert_close(got, want(key), '%s/%s' % (name, key))

    data = np.load(os.path.join(folder, 'minibatch_stddev.npz'))
    for case in cases['minibatch_stddev']:
        name = case['name']
        x_value = to_nhwc(data['x'][:2] if case['input'] == 'x[:2]' else data['x'][:8])
        x = tf.placeholder(tf.float32, [None] + list(x_value.shape[1:]))
        out = nets2.minibatch_stddev_layer(x, case['group_size'], case['num_new_features'], data_format='NHWC')
        dx = tf.gradients(tf.reduce_sum(out * to_nhwc(data[name + '/R'])), [x])[0]
        out, dx = sess.run([out, dx], {x: x_value})
        assert_close(to_nchw(out), data[name + '/y'], name + '/y', rtol=1e-5)
        assert_close(to_nchw(dx), data[name + '/dx'], name + '/dx', rtol=1e-5)


# ----------------------------------------------------------------------------------------------------
# The same variables, the same numbers in both layouts.


def outputs_and_gradients(sess, G, D, z, labels, **kwargs):
    """Per layout: images, scores, and the gradients of sum(D(G(z))) w.r.t. the images and every trainable."""
    results = {}
    for layout in LAYOUTS:
        images = G.get_output_for(z, labels, is_training=False, truncation_psi=1, randomize_noise=False,
                                  data_format=layout, **kwargs)
        scores = D.get_output_for(images, labels, data_format=layout, **kwargs)
        trainables = list(G.trainables.values()) + list(D.trainables.values())
        grads = tf.gradients(tf.reduce_sum(scores), [images] + trainables)
        results[layout] = sess.run([images, scores] + grads)
    return results


def assert_layouts_agree(results, names):
    for name, a, b in zip(names, results['NCHW'], results['NHWC']):
        assert np.abs(a).max() > 1e-6, name  # Every output and gradient is exercised.
        assert_close(b, a, 'NHWC vs NCHW: ' + name)


@pytest.mark.parametrize('g_arch,d_arch,num_channels,label_size', [
    ('skip', 'resnet', 3, 0), ('orig', 'skip', 1, 0), ('resnet', 'orig', 3, 3)],
    ids=['Gskip-Dresnet', 'Gorig-Dskip-gray', 'Gresnet-Dorig-cond'])
def test_stylegan2_same_numbers_in_both_layouts(sess, g_arch, d_arch, num_channels, label_size):
    skip_without_nchw()
    G = Network('G', func_name=MODULE + 'G_main', architecture=g_arch,
                **dict(TINY_G, num_channels=num_channels, label_size=label_size))
    D = Network('D', func_name=MODULE + 'D_stylegan2', architecture=d_arch,
                **dict(TINY_D, num_channels=num_channels, label_size=label_size))
    randomize(G, 1)
    randomize(D, 2)
    rnd = np.random.RandomState(3)
    z = tf.constant(rnd.randn(4, 32), tf.float32)
    labels = tf.constant(np.eye(3)[rnd.randint(3, size=4)], tf.float32) if label_size else None
    results = outputs_and_gradients(sess, G, D, z, labels)
    assert results['NCHW'][0].shape == (4, num_channels, 16, 16)
    assert_layouts_agree(results, ['images', 'scores', 'd/dimages'] + list(G.trainables) + list(D.trainables))


@pytest.mark.parametrize('structure', ['linear', 'recursive'])
def test_progressive_networks_same_numbers_at_fractional_lod(sess, structure):
    skip_without_nchw()
    G = Network('G', func_name=MODULE + 'G_main', synthesis_func='G_synthesis_stylegan_revised', **TINY_G)
    D = Network('D', func_name=MODULE + 'D_stylegan', **TINY_D)
    randomize(G, 4)
    randomize(D, 5)
    G.set_var('lod', 0.5)
    D.set_var('lod', 1.25)
    z = tf.constant(np.random.RandomState(6).randn(4, 32), tf.float32)
    results = outputs_and_gradients(sess, G, D, z, None, structure=structure)
    names = ['images', 'scores', 'd/dimages'] + ['G/' + n for n in G.trainables] + ['D/' + n for n in D.trainables]
    # G at lod 0.5 blends 16x16 and 8x8; D at lod 1.25 blends 8x8 and 4x4 inputs. The other
    # resolutions get zero gradients in both layouts.
    unused_prefixes = ('G/G_synthesis/ToRGB_lod2/', 'D/FromRGB_lod0/', 'D/16x16/')
    used = [i for i, name in enumerate(names) if not name.startswith(unused_prefixes)]
    unused = sorted(set(range(len(names))) - set(used))
    assert all(not np.any(results[layout][i]) for layout in LAYOUTS for i in unused)
    assert_layouts_agree({k: [v[i] for i in used] for k, v in results.items()}, [names[i] for i in used])


@pytest.mark.parametrize('variant', ['fused-gray-cond', 'two-step'])
def test_stylegan1_same_numbers_in_both_layouts(sess, variant):
    """G_style / D_basic at lod 0.5 (tf.cond branches), and the R1 penalty's second-order gradients
    through the custom-gradient blur and up/downscaling."""
    skip_without_nchw()
    if variant == 'fused-gray-cond':
        kwargs = dict(SMALL_STYLEGAN1, num_channels=1, label_size=2, fused_scale=True, const_input_layer=False,
                      use_pixel_norm=True)
    else:
        kwargs = dict(SMALL_STYLEGAN1, fused_scale=False)
    G = Network('G', func_name='training.networks_stylegan.G_style', **kwargs)
    D = Network('D', func_name='training.networks_stylegan.D_basic', **kwargs)
    randomize(G, 7)
    randomize(D, 8)
    G.set_var('lod', 0.5)
    D.set_var('lod', 0.5)
    rnd = np.random.RandomState(9)
    z = tf.constant(rnd.randn(4, 8), tf.float32)
    labels = tf.constant(np.eye(2)[rnd.randint(2, size=4)], tf.float32) if kwargs.get('label_size') else None
    reals = tf.constant(rnd.randn(4, kwargs['num_channels'], 16, 16), tf.float32)
    # D's weights that the R1 penalty reaches at lod 0.5 (the biases past the minibatch stddev have no
    # second derivative, FromRGB_lod2 is not used).
    weight_names = [name for name in D.trainables if name.endswith('weight') and 'FromRGB_lod2' not in name]
    d_weights = [D.trainables[name] for name in weight_names]
    results = {}
    for layout in LAYOUTS:
        images = G.get_output_for(z, labels, truncation_psi=0.7, randomize_noise=False, data_format=layout)
        real_scores = D.get_output_for(reals, labels, is_training=True, data_format=layout)
        real_grads = tf.gradients(tf.reduce_sum(real_scores), [reals])[0]
        penalty = tf.reduce_sum(tf.square(real_grads))
        results[layout] = sess.run([images, real_scores, real_grads] + tf.gradients(penalty, d_weights))
    names = ['images', 'real_scores', 'd/dreals'] + ['d(R1)/d' + name for name in weight_names]
    assert_layouts_agree(results, names)


# ----------------------------------------------------------------------------------------------------
# Pickles.


def test_pickle_written_in_one_layout_runs_in_the_other(sess, monkeypatch):
    skip_without_nchw()
    monkeypatch.setenv(ENV, 'NCHW')
    G = Network('G', func_name=MODULE + 'G_main', **TINY_G)
    D = Network('D', func_name=MODULE + 'D_stylegan2', **TINY_D)
    G_nhwc = Network('G', func_name=MODULE + 'G_main', data_format='NHWC', **TINY_G)  # Stored in static_kwargs.
    randomize(G, 10)
    randomize(D, 11)
    G_nhwc.copy_vars_from(G)
    z = np.random.RandomState(12).randn(4, 32)
    images = G.run(z, None, randomize_noise=False)
    scores = D.run(images, None)
    assert 'data_format' not in G.static_kwargs and 'data_format' not in D.static_kwargs
    data = pickle.dumps((G, D, G_nhwc), protocol=4)

    def load_and_check(layout_env, want_layout, **load_kwargs):
        monkeypatch.setenv(ENV, layout_env)
        with tf.Graph().as_default(), tflib.create_session().as_default():
            G2, D2, G3 = load_network_pickle(io.BytesIO(data), **load_kwargs)
            ops = []
            with new_ops(ops):
                got_images = G2.run(z, None, randomize_noise=False)
                got_scores = D2.run(images, None)
            assert layouts_used(ops) == want_layout
            assert_close(got_images, images, 'images')
            assert_close(got_scores, scores, 'scores')
            if layout_env == 'NCHW':
                ops = []
                with new_ops(ops):
                    got_images = G3.run(z, None, randomize_noise=False)
                assert layouts_used(ops) == {'NHWC'}  # The pickled argument wins over the environment.
                assert_close(got_images, images, 'images (data_format=NHWC pickled)')
            return G2

    # The official loader executes the module source embedded in the pickle.
    monkeypatch.setattr(network_pickle, 'KNOWN_BUILD_MODULES', ())
    G2 = load_and_check('NHWC', {'NHWC'}, allow_code_execution=True)
    assert G2._build_func.__module__.startswith('_tflib_network_import_')
    monkeypatch.undo()
    load_and_check('NCHW', {'NCHW', 'NHWC'})


# ----------------------------------------------------------------------------------------------------
# Fused modulated convolution without grouped convolutions.


def conv_batch_sizes(ops):
    """Static minibatch of the input of every convolution with a variable weight (not a constant FIR kernel)."""
    sizes = []
    for op in ops:
        if op.type in ('Conv2D', 'Conv2DBackpropInput') and op.inputs[1].op.type != 'Const':
            sizes.append((op.inputs[2] if op.type == 'Conv2DBackpropInput' else op.inputs[0]).shape[0].value)
    return sizes


def test_grouped_conv_detection(monkeypatch):
    monkeypatch.setattr(nets2, '_grouped_conv_supported_cache', [])
    # ENVIRONMENT.md: GPUs have grouped convolutions; CPUs only in TF 2.x through oneDNN.
    want = gpu_visible() or (tf.VERSION.startswith('2.') and os.environ.get('TF_ENABLE_ONEDNN_OPTS') != '0')
    assert nets2.grouped_conv_supported() == want
    assert nets2._grouped_conv_supported_cache == [want]
    # Fused modulated convolution is grouped only on GPUs: on CPUs the non-fused form is faster.
    assert nets2.use_grouped_conv() == gpu_visible()


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('resample', ['up', 'down', 'none'])
def test_fused_modconv_without_grouped_convolutions_is_the_non_fused_form(sess, monkeypatch, layout, resample):
    if layout == 'NCHW':
        skip_without_nchw()
    rnd = np.random.RandomState(13)
    x_value = rnd.randn(3, 4, 8, 8).astype(np.float32)
    x = tf.constant(x_value if layout == 'NCHW' else to_nhwc(x_value))
    y = tf.constant(rnd.randn(3, 16), tf.float32)
    # Fused asked for, with and without grouped convolutions (the former only where they run),
    # and the non-fused form asked for.
    settings = {'fallback': (False, True), 'non-fused': (False, False)}
    if nets2.grouped_conv_supported():
        settings['grouped'] = (True, True)
    outputs, batch_sizes = {}, {}
    for name, (grouped, fused_modconv) in settings.items():
        monkeypatch.setattr(nets2, 'use_grouped_conv', lambda grouped=grouped: grouped)
        ops = []
        with new_ops(ops), tf.variable_scope('layer', reuse=tf.AUTO_REUSE):
            out = nets2.modulated_conv2d_layer(x, y, fmaps=5, kernel=3, up=resample == 'up', down=resample == 'down',
                                               resample_kernel=[1, 3, 3, 1], fused_modconv=fused_modconv,
                                               data_format=layout)
        batch_sizes[name] = conv_batch_sizes(ops)
        outputs[name] = out if layout == 'NCHW' else tf.transpose(out, [0, 3, 1, 2])
    # Grouped: one convolution of a batch of 1. Without: the non-fused form on the batch of 3.
    assert batch_sizes['fallback'] == batch_sizes['non-fused'] == [3]
    assert batch_sizes.get('grouped', [1]) == [1]
    with tf.variable_scope('layer', reuse=True):
        tflib.set_vars({tf.get_variable(name): rnd.randn(*tf.get_variable(name).shape.as_list())
                        for name in ['weight', 'mod_weight', 'mod_bias']})
    got = sess.run(outputs)
    assert np.abs(got['fallback']).max() > 0.1
    assert_close(got['fallback'], got['non-fused'], 'fallback vs non-fused')
    if 'grouped' in got:
        assert_close(got['fallback'], got['grouped'], 'fallback vs grouped')


# ----------------------------------------------------------------------------------------------------
# What the official dnnlib offers to the module source it executes.

OFFICIAL_TFLIB = {'run', 'is_tf_expression', 'shape_to_list', 'flatten', 'log2', 'exp2', 'lerp', 'lerp_clip',
                  'absolute_name_scope', 'absolute_variable_scope', 'init_tf', 'assert_tf_initialized',
                  'create_session', 'init_uninitialized_vars', 'set_vars', 'create_var_with_large_initial_value',
                  'convert_images_from_uint8', 'convert_images_to_uint8', 'Network', 'Optimizer'}
ALLOWED_IMPORTS = {'os', 'numpy', 'tensorflow.compat.v1', 'dnnlib', 'dnnlib.tflib', 'dnnlib.tflib.ops.upfirdn_2d',
                   'dnnlib.tflib.ops.fused_bias_act'}


@pytest.mark.parametrize('nets', [nets2, nets1], ids=['stylegan2', 'stylegan'])
def test_module_source_uses_only_what_the_official_dnnlib_has(nets):
    tree = ast.parse(open(nets.__file__).read())
    imports = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imports.add(node.module)
    assert imports <= ALLOWED_IMPORTS, imports - ALLOWED_IMPORTS
    tflib_names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                   and isinstance(node.value, ast.Name) and node.value.id == 'tflib'}
    assert tflib_names <= OFFICIAL_TFLIB, tflib_names - OFFICIAL_TFLIB
    dnnlib_names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name) and node.value.id == 'dnnlib'}
    assert dnnlib_names <= {'EasyDict'}, dnnlib_names
