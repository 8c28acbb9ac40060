"""Tests of training/networks_stylegan2.py against numbers from the official implementation.

* Every folder `reference/tiny-*`: build G, D and Gs with the official static kwargs, assign the
  official variables and reproduce every stored array (mapping, synthesis, the run_generator seeding
  protocol, G and D outputs).
* `reference/pieces/layers`: modulated convolution (fused and not, up/down, demodulation) and minibatch
  stddev, outputs and gradients.
* Parameter counts of the paper-size networks (as the official networks count them).
* The progressive-growing pair (configs b-d): variable names, level-of-detail behaviour, gradients.
"""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import dnnlib.tflib as tflib
from training import networks_stylegan2 as nets

MODULE = 'training.networks_stylegan2.'
REFERENCE_NETS = ['tiny-Gskip-Dresnet', 'tiny-cond4', 'tiny-gray']
TINY_G_KWARGS = dict(num_channels=3, resolution=16, label_size=0, fmap_base=128, fmap_max=32, latent_size=32,
                     dlatent_size=32, mapping_fmaps=32, mapping_layers=2)
TINY_D_KWARGS = dict(num_channels=3, resolution=16, label_size=0, fmap_base=128, fmap_max=32)


def assert_close(got, want, name, rtol=1e-5, atol=1e-5):
    assert got.shape == want.shape, '%s: shape %s, expected %s' % (name, got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)


def assert_uint8_close(got, want, name):
    """Exact, or off by one in a handful of pixels where the official rounding sits on .5."""
    assert got.dtype == np.uint8 and got.shape == want.shape, name
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
    assert diff.max() <= 1, '%s: max difference %d' % (name, diff.max())
    assert np.count_nonzero(diff) <= 5, '%s: %d values off by one' % (name, np.count_nonzero(diff))


def skip_without_grouped_conv():
    """The layer tests below run in NCHW with grouped convolutions, which a CPU has only in TF 2.x through
    oneDNN (NCHW convolutions likewise); tests/test_data_format.py checks the same numbers in NHWC."""
    if not nets.grouped_conv_supported():
        pytest.skip('NCHW and grouped convolutions need a GPU or oneDNN')


def force_grouped_conv(monkeypatch):
    """Fused modulated convolution as a grouped convolution also on a CPU (by default only on GPUs)."""
    skip_without_grouped_conv()
    monkeypatch.setattr(nets, 'use_grouped_conv', lambda: True)


def num_params(net):
    return sum(int(np.prod(var.shape.as_list())) for var in net.trainables.values())


def randomize_vars(net, seed):
    """Give every variable random values, biases and noise strengths included, so that all of them matter."""
    rnd = np.random.RandomState(seed)
    values = {}
    for name, var in net.vars.items():
        shape = var.shape.as_list()
        if name.endswith('lod'):
            values[var] = np.float32(0)
        elif name.endswith('weight') or name.endswith('const') or name.split('/')[-1].startswith('noise') \
                and not name.endswith('noise_strength'):
            values[var] = rnd.randn(*shape)
        else:  # biases, mod_bias, noise_strength, dlatent_avg
            values[var] = 0.2 * rnd.randn(*shape)
    tflib.set_vars(values)


# ----------------------------------------------------------------------------------------------------
# Official reference networks.


@pytest.mark.parametrize('folder', REFERENCE_NETS)
def test_reference_networks(sess, reference, folder):
    ref = os.path.join(reference, folder)
    meta = json.load(open(os.path.join(ref, 'meta.json')))
    load = lambda name: np.load(os.path.join(ref, name + '.npy'))

    G = tflib.Network('G', func_name=MODULE + 'G_main', **meta['G_static_kwargs'])
    D = tflib.Network('D', func_name=MODULE + 'D_stylegan2', **meta['D_static_kwargs'])
    Gs = G.clone('Gs')
    assert G.input_shapes == meta['G_input_shapes'] and G.output_shape == meta['G_output_shape']
    assert D.input_shapes == meta['D_input_shapes'] and D.output_shape == [None, 1]
    assert num_params(G) == meta['num_params']['G'] and num_params(D) == meta['num_params']['D']

    # Variables map one to one, by name and shape.
    for net, key in [(G, 'G'), (D, 'D'), (Gs, 'Gs')]:
        stored = np.load(os.path.join(ref, 'vars_%s.npz' % key))
        want = {name.replace('|', '/'): stored[name] for name in stored.files}
        assert sorted(net.vars) == sorted(want), key
        for name, var in net.vars.items():
            assert var.shape.as_list() == list(want[name].shape), '%s: %s' % (key, name)
        tflib.set_vars({net.vars[name]: value for name, value in want.items()})
    synthesis = Gs.components.synthesis
    noise_vars = [var for name, var in synthesis.vars.items() if name.startswith('noise')]
    assert [name for name in synthesis.vars if name.startswith('noise')] == meta['noise_var_order']

    z = load('z')
    labels = load('labels') if meta['G_static_kwargs']['label_size'] else None

    assert_close(Gs.components.mapping.run(z, labels), load('dlatents'), 'dlatents')
    assert_close(synthesis.run(load('dlatents'), randomize_noise=False), load('synth_from_dlatents'),
                 'synth_from_dlatents')
    for psi in meta['psis']:
        assert_close(Gs.run(z, labels, randomize_noise=False, truncation_psi=psi), load('pklnoise_psi%g' % psi),
                     'pklnoise_psi%g' % psi)
    assert_close(G.run(z, labels, randomize_noise=False, truncation_psi=1), load('G_psi1'), 'G_psi1')
    assert_close(D.run(load('gen_psi1'), labels), load('D_scores_on_gen'), 'D_scores_on_gen')
    assert_close(D.run(load('D_rand_images'), labels), load('D_scores_on_rand'), 'D_scores_on_rand')

    # The run_generator.py protocol: z, then the noise variables, from one RandomState per seed.
    latent_size = meta['G_static_kwargs']['latent_size']
    for psi in meta['psis']:
        images = []
        for i, seed in enumerate(meta['seeds']):
            rnd = np.random.RandomState(seed)
            seed_z = rnd.randn(1, latent_size)
            tflib.set_vars({var: rnd.randn(*var.shape.as_list()) for var in noise_vars})
            seed_labels = None if labels is None else labels[i:i + 1]
            images.append(Gs.run(seed_z, seed_labels, randomize_noise=False, truncation_psi=psi))
        images = np.concatenate(images)
        assert_close(images, load('gen_psi%g' % psi), 'gen_psi%g' % psi)
        images_uint8 = sess.run(tflib.convert_images_to_uint8(images, nchw_to_nhwc=True))
        assert_uint8_close(images_uint8, load('gen_psi%g_uint8' % psi), 'gen_psi%g_uint8' % psi)


# ----------------------------------------------------------------------------------------------------
# Layers against the official numbers.


def layer_cases(reference, npz_name, kind):
    folder = os.path.join(reference, 'pieces', 'layers')
    cases = json.load(open(os.path.join(folder, 'cases.json')))[kind]
    return cases, np.load(os.path.join(folder, npz_name))


def conv_batch_sizes(out):
    """Static minibatch size of the input of every forward convolution with the layer's weight (not the
    constant FIR kernels of the ref upfirdn_2d) in the layer that made `out`.

    The fused modulated convolution runs one grouped convolution on a batch of 1, the non-fused one
    runs on the minibatch."""
    scope = out.op.name.split('/')[0] + '/'
    sizes = []
    for op in out.graph.get_operations():
        if op.name.startswith(scope) and op.type in ('Conv2D', 'Conv2DBackpropInput'):
            if op.inputs[1].op.type == 'Const':
                continue
            x = op.inputs[2] if op.type == 'Conv2DBackpropInput' else op.inputs[0]  # (sizes, filter, x)
            sizes.append(x.shape[0].value)
    return sizes


@pytest.mark.parametrize('batch_known', [True, False], ids=['static_batch', 'unknown_batch'])
def test_modulated_conv2d_layer(sess, reference, monkeypatch, batch_known):
    force_grouped_conv(monkeypatch)
    cases, data = layer_cases(reference, 'modulated_conv2d.npz', 'modulated_conv2d')
    x_value, y_value = data['x'], data['y']
    x_in = tf.placeholder(tf.float32, x_value.shape if batch_known else [None] + list(x_value.shape[1:]))
    y_in = tf.placeholder(tf.float32, y_value.shape if batch_known else [None, y_value.shape[1]])

    fetches, assigns = {}, {}
    for case in cases:
        name = case['name']
        with tf.variable_scope(name):
            out = nets.modulated_conv2d_layer(x_in, y_in, case['fmaps'], case['kernel'], up=case['up'],
                                              down=case['down'], demodulate=case['demodulate'],
                                              resample_kernel=case['resample_kernel'],
                                              fused_modconv=case['fused_modconv'])
        with tf.variable_scope(name, reuse=True):
            variables = {v: tf.get_variable(v) for v in ['weight', 'mod_weight', 'mod_bias']}
        assert out.shape.as_list()[1:] == case['out_shape'][1:], name
        # The fused cases, up/down with an unknown minibatch included, take the grouped path.
        want_batch = 1 if case['fused_modconv'] else x_in.shape[0].value
        assert conv_batch_sizes(out) == [want_batch], name
        vars_key = 'vars_k%d' % case['kernel']
        assigns.update({var: data['%s/%s' % (vars_key, v)] for v, var in variables.items()})
        loss = tf.reduce_sum(out * data[name + '/R'])
        grads = tf.gradients(loss, [x_in, y_in] + [variables[v] for v in ['weight', 'mod_weight', 'mod_bias']])
        fetches[name] = dict(zip(['y', 'dx', 'dy', 'd_weight', 'd_mod_weight', 'd_mod_bias'], [out] + grads))

    tflib.set_vars(assigns)
    results = sess.run(fetches, {x_in: x_value, y_in: y_value})
    for name, arrays in results.items():
        for key, got in arrays.items():
            assert_close(got, data['%s/%s' % (name, key)], '%s/%s' % (name, key), rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize('resample', ['up', 'down', 'none'])
def test_modulated_conv2d_second_order_unknown_batch(sess, monkeypatch, resample):
    """The gradients of gradient norms (R1 penalty: w.r.t. the images, path-length regularizer: w.r.t.
    the w vectors) through the fused grouped layer with an unknown minibatch equal the non-fused layer's."""
    force_grouped_conv(monkeypatch)
    rnd = np.random.RandomState(6)
    x_value = rnd.randn(3, 4, 8, 8).astype(np.float32)
    y_value = rnd.randn(3, 16).astype(np.float32)
    x_in = tf.placeholder(tf.float32, [None, 4, 8, 8])
    y_in = tf.placeholder(tf.float32, [None, 16])
    outputs = {}
    for fused in [True, False]:
        with tf.variable_scope('layer', reuse=tf.AUTO_REUSE):
            outputs[fused] = nets.modulated_conv2d_layer(x_in, y_in, fmaps=5, kernel=3, up=resample == 'up',
                                                         down=resample == 'down', resample_kernel=[1, 3, 3, 1],
                                                         fused_modconv=fused)
        assert conv_batch_sizes(outputs[fused]) == [1 if fused else None]
    with tf.variable_scope('layer', reuse=True):
        variables = [tf.get_variable(name) for name in ['weight', 'mod_weight', 'mod_bias']]
    tflib.set_vars({var: 0.5 * rnd.randn(*var.shape.as_list()) for var in variables})
    r_value = rnd.randn(*outputs[True].shape.as_list()[1:]).astype(np.float32)

    fetches = {}
    for fused, out in outputs.items():
        loss = tf.reduce_sum(tf.nn.softplus(out) * r_value)  # Non-linear, so that d(penalty)/dx is not 0.
        dx, dy = tf.gradients(loss, [x_in, y_in])
        penalty = tf.reduce_sum(tf.square(dx)) + tf.reduce_sum(tf.square(dy))
        fetches[fused] = tf.gradients(penalty, [x_in, y_in] + variables)
    results = sess.run(fetches, {x_in: x_value, y_in: y_value})
    for name, got, want in zip(['x', 'y', 'weight', 'mod_weight', 'mod_bias'], results[True], results[False]):
        assert np.abs(want).max() > 1e-3, name
        assert_close(got, want, 'd(penalty)/d%s' % name, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_minibatch_stddev_layer(sess, reference):
    cases, data = layer_cases(reference, 'minibatch_stddev.npz', 'minibatch_stddev')
    for case in cases:
        name = case['name']
        x_value = data['x'][:2] if case['input'] == 'x[:2]' else data['x'][:8]
        x_in = tf.placeholder(tf.float32, [None] + list(x_value.shape[1:]))
        out = nets.minibatch_stddev_layer(x_in, case['group_size'], case['num_new_features'])
        dx = tf.gradients(tf.reduce_sum(out * data[name + '/R']), [x_in])[0]
        y, dx = sess.run([out, dx], {x_in: x_value})
        assert_close(y, data[name + '/y'], name + '/y')
        assert_close(dx, data[name + '/dx'], name + '/dx')


@pytest.mark.parametrize('data_format', ['NCHW', 'NHWC'])
def test_dense_conv_bias_layers(sess, data_format):
    """Equalized learning rate: stored N(0, 1/lrmul) weights, multiplied by gain/sqrt(fan_in)*lrmul at run time."""
    if data_format == 'NCHW':
        skip_without_grouped_conv()
    rnd = np.random.RandomState(0)
    x_value = rnd.randn(2, 3, 5, 5).astype(np.float32)
    x = tf.constant(x_value)
    with tf.variable_scope('Dense'):
        dense = nets.apply_bias_act(nets.dense_layer(x, fmaps=4, lrmul=0.01), act='lrelu', lrmul=0.01)
    with tf.variable_scope('Conv'):
        conv = nets.conv2d_layer(nets.nchw_to_layout(x, data_format), fmaps=4, kernel=3, gain=2, use_wscale=False,
                                 data_format=data_format)
        conv = nets.layout_to_nchw(conv, data_format)
    tflib.init_uninitialized_vars()
    variables = {var.name.split(':')[0]: var for var in tf.global_variables()}
    w_dense, w_conv = sess.run([variables['Dense/weight'], variables['Conv/weight']])
    assert sorted(variables) == ['Conv/weight', 'Dense/bias', 'Dense/weight']
    assert w_dense.shape == (75, 4) and w_conv.shape == (3, 3, 3, 4)
    assert 50 < np.std(w_dense) < 150  # N(0, 1/lrmul)
    b_dense = rnd.randn(4).astype(np.float32)
    tflib.set_vars({variables['Dense/bias']: b_dense})

    pre = x_value.reshape(2, -1) @ (w_dense / np.sqrt(75) * 0.01) + b_dense * 0.01
    want_dense = np.where(pre > 0, pre, 0.2 * pre) * np.sqrt(2)
    padded = np.pad(x_value, [(0, 0), (0, 0), (1, 1), (1, 1)])
    want_conv = np.zeros([2, 4, 5, 5])
    for dy in range(3):
        for dx in range(3):
            want_conv += np.einsum('nchw,co->nohw', padded[:, :, dy:dy + 5, dx:dx + 5], w_conv[dy, dx])
    got_dense, got_conv = sess.run([dense, conv])
    assert_close(got_dense, want_dense, 'dense', rtol=1e-4)
    assert_close(got_conv, want_conv, 'conv (use_wscale=False stores the scaled weight)', rtol=1e-4, atol=1e-4)
    assert 0.2 < np.std(w_conv) * np.sqrt(27) / 2 < 2  # He init N(0, gain/sqrt(fan_in)) without wscale


def test_naive_resampling(sess):
    x_value = np.random.RandomState(1).randn(2, 3, 4, 4).astype(np.float32)
    up, down = sess.run([nets.naive_upsample_2d(tf.constant(x_value), factor=2),
                         nets.naive_downsample_2d(tf.constant(x_value), factor=2)])
    assert_close(up, x_value.repeat(2, axis=2).repeat(2, axis=3), 'naive_upsample_2d')
    assert_close(down, x_value.reshape(2, 3, 2, 2, 2, 2).mean(axis=(3, 5)), 'naive_downsample_2d')


# ----------------------------------------------------------------------------------------------------
# G_main behaviour, other architectures, parameter counts.


def test_G_main_truncation_and_training(sess):
    G = tflib.Network('G', func_name=MODULE + 'G_main', **TINY_G_KWARGS)
    randomize_vars(G, 1)
    num_layers = G.components.synthesis.input_shape[1]
    z = np.random.RandomState(2).randn(8, 32)
    w = G.components.mapping.run(z, None)
    avg = G.get_var('dlatent_avg')

    # Truncation on the layers below the cutoff; psi 1 and validation without *_val values turn it off.
    z_in = tf.constant(z, tf.float32)
    dlatents_for = lambda **kwargs: sess.run(G.get_output_for(z_in, None, return_dlatents=True, **kwargs)[1])
    dlatents = dlatents_for(truncation_psi=0.5, truncation_cutoff=2)
    want = w.copy()
    want[:, :2] = avg + (w[:, :2] - avg) * 0.5
    assert_close(dlatents, want, 'truncation_cutoff')
    assert_close(dlatents_for(), avg + (w - avg) * 0.5, 'default truncation (psi 0.5, all layers)')
    assert_close(dlatents_for(truncation_psi=1), w, 'psi 1')
    assert_close(dlatents_for(is_validation=True), w, 'validation without truncation_psi_val')
    dlatents = dlatents_for(is_validation=True, truncation_psi_val=0.7, truncation_cutoff_val=3)
    want = w.copy()
    want[:, :3] = avg + (w[:, :3] - avg) * 0.7
    assert_close(dlatents, want, 'truncation_psi_val')

    # Training: dlatent_avg moves towards the batch mean of w; style mixing switches to a second w at a cutoff.
    images, dlatents = G.get_output_for(z_in, None, is_training=True, return_dlatents=True,
                                        style_mixing_prob=1.0)
    _, mixed = sess.run([images, dlatents])
    avg_after = G.get_var('dlatent_avg')
    assert_close(avg_after, w[:, 0].mean(axis=0) + (avg - w[:, 0].mean(axis=0)) * 0.995, 'dlatent_avg update')
    from_first = np.all(np.abs(mixed - w) < 1e-5, axis=(0, 2))  # per layer: still the w of z?
    cutoff = int(np.argmin(from_first))
    assert from_first[0] and not from_first[-1] and from_first[:cutoff].all() and not from_first[cutoff:].any()
    assert np.allclose(mixed[:, cutoff:], mixed[:, -1:], atol=1e-6)  # one broadcast w for the mixed layers
    assert mixed.shape == (8, num_layers, 32)


@pytest.mark.parametrize('g_arch,d_arch', [('orig', 'skip'), ('resnet', 'orig')])
def test_other_architectures(sess, g_arch, d_arch):
    G = tflib.Network('G', func_name=MODULE + 'G_main', architecture=g_arch, **TINY_G_KWARGS)
    D = tflib.Network('D', func_name=MODULE + 'D_stylegan2', architecture=d_arch, **TINY_D_KWARGS)
    randomize_vars(G, 3)
    randomize_vars(D, 4)
    g_names = list(G.components.synthesis.vars)
    to_rgb = [name for name in g_names if 'ToRGB' in name]
    if g_arch == 'orig':
        assert sorted(set(name.split('/')[0] for name in to_rgb)) == ['16x16']
        assert not any('Skip' in name for name in g_names)
    else:
        assert [name for name in g_names if 'Skip' in name] == ['8x8/Skip/weight', '16x16/Skip/weight']
    from_rgb = [name for name in D.vars if 'FromRGB' in name]
    want = ['16x16', '8x8', '4x4'] if d_arch == 'skip' else ['16x16']
    assert [name.split('/')[0] for name in from_rgb] == [r for r in want for _ in range(2)]
    assert not any('Skip' in name for name in D.vars)
    assert D.vars['4x4/Conv/weight'].shape.as_list() == [3, 3, 33, 32]  # + minibatch stddev

    # Fused and non-fused modulated convolution compute the same images.
    z = np.random.RandomState(5).randn(4, 32)
    fused = G.run(z, None, truncation_psi=1, randomize_noise=False)
    unfused = G.run(z, None, truncation_psi=1, randomize_noise=False, fused_modconv=False)
    assert fused.shape == (4, 3, 16, 16) and np.std(fused) > 0.1
    assert_close(unfused, fused, 'fused vs non-fused', rtol=1e-4, atol=1e-4)
    scores = D.run(fused, None)
    assert scores.shape == (4, 1) and np.all(np.isfinite(scores))


def test_errors(sess):
    with pytest.raises(ValueError, match='architecture'):
        tflib.Network('G', func_name=MODULE + 'G_main', architecture='bogus', **TINY_G_KWARGS)
    with pytest.raises(ValueError, match='resolution'):
        tflib.Network('D', func_name=MODULE + 'D_stylegan2', num_channels=3, resolution=24)


@pytest.mark.parametrize('resolution,fmap_base,num_G,num_D', [
    (1024, 16 << 10, 30370060, 29012513),   # config-f 1024x1024
    (256, 16 << 10, 30034338, 28864129),    # config-f 256x256
    (256, 8 << 10, 24767458, 24001089),     # config-e 256x256
], ids=['config-f-1024', 'config-f-256', 'config-e-256'])
@pytest.mark.slow_on_tf1  # full-size graphs, parameter counts only
def test_paper_parameter_counts(sess, resolution, fmap_base, num_G, num_D):
    kwargs = dict(num_channels=3, resolution=resolution, label_size=0, fmap_base=fmap_base)
    G = tflib.Network('G', func_name=MODULE + 'G_main', **kwargs)
    D = tflib.Network('D', func_name=MODULE + 'D_stylegan2', **kwargs)
    assert num_params(G) == num_G
    assert num_params(D) == num_D


# ----------------------------------------------------------------------------------------------------
# Progressive growing (configs b-d): G_main + G_synthesis_stylegan_revised, D_stylegan.


def modconv_names(scope, noise=True):
    names = [scope + '/weight', scope + '/mod_weight', scope + '/mod_bias']
    return names + ([scope + '/noise_strength'] if noise else []) + [scope + '/bias']


def expected_revised_synthesis_vars(resolution_log2):
    names = ['lod'] + ['noise%d' % i for i in range(resolution_log2 * 2 - 3)]
    names += ['4x4/Const/const'] + modconv_names('4x4/Conv')
    names += modconv_names('ToRGB_lod%d' % (resolution_log2 - 2), noise=False)
    for res in range(3, resolution_log2 + 1):
        size = '%dx%d' % (2 ** res, 2 ** res)
        names += modconv_names(size + '/Conv0_up') + modconv_names(size + '/Conv1')
        names += modconv_names('ToRGB_lod%d' % (resolution_log2 - res), noise=False)
    return names


def expected_D_stylegan_vars(resolution_log2):
    names = ['lod', 'FromRGB_lod0/weight', 'FromRGB_lod0/bias']
    for res in range(resolution_log2, 2, -1):
        size = '%dx%d' % (2 ** res, 2 ** res)
        names += [size + '/Conv0/weight', size + '/Conv0/bias', size + '/Conv1_down/weight', size + '/Conv1_down/bias']
        lower = 'FromRGB_lod%d' % (resolution_log2 - res + 1)
        names += [lower + '/weight', lower + '/bias']
    return names + ['4x4/Conv/weight', '4x4/Conv/bias', '4x4/Dense0/weight', '4x4/Dense0/bias',
                    'Output/weight', 'Output/bias']


def copy_to_lower_resolution(src, dst, lod_shift):
    """Copy src's variables to a network one resolution smaller, renaming *_lod{k} to *_lod{k-lod_shift}."""
    values = {}
    for name, var in dst.vars.items():
        if name == 'lod':
            continue
        head, sep, tail = name.partition('/')
        if '_lod' in head:
            prefix, lod = head.rsplit('_lod', 1)
            head = '%s_lod%d' % (prefix, int(lod) + lod_shift)
        values[var] = src.get_var(head + sep + tail)
    tflib.set_vars(values)


def test_progressive_generator(sess):
    kwargs = dict(TINY_G_KWARGS, synthesis_func='G_synthesis_stylegan_revised')
    G = tflib.Network('G', func_name=MODULE + 'G_main', **kwargs)
    synthesis = G.components.synthesis
    assert list(synthesis.vars) == expected_revised_synthesis_vars(4)
    assert list(G.own_vars) == ['lod', 'dlatent_avg']
    randomize_vars(G, 6)

    # The same layers at 8x8 without growing: the reference for lod = 1.
    S8 = tflib.Network('S8', func_name=MODULE + 'G_synthesis_stylegan_revised', structure='fixed',
                       **dict(kwargs, resolution=8))
    copy_to_lower_resolution(synthesis, S8, lod_shift=1)

    w = np.random.RandomState(7).randn(4, 6, 32).astype(np.float32)
    run = lambda structure: synthesis.run(w, randomize_noise=False, structure=structure)
    out_lod0 = {s: run(s) for s in ['fixed', 'linear', 'recursive']}
    assert out_lod0['fixed'].shape == (4, 3, 16, 16)
    assert_close(out_lod0['linear'], out_lod0['fixed'], 'linear vs fixed at lod 0')
    assert_close(out_lod0['recursive'], out_lod0['fixed'], 'recursive vs fixed at lod 0')

    synthesis.set_var('lod', 1.0)
    upsampled8 = S8.run(w[:, :4], randomize_noise=False).repeat(2, axis=2).repeat(2, axis=3)
    assert_close(run('linear'), upsampled8, 'linear at lod 1')
    assert_close(run('recursive'), upsampled8, 'recursive at lod 1')

    synthesis.set_var('lod', 0.5)
    blend = 0.5 * (out_lod0['fixed'] + upsampled8)
    assert_close(run('linear'), blend, 'linear at lod 0.5')
    assert_close(run('recursive'), blend, 'recursive at lod 0.5')

    # G_main hands its own lod over to the synthesis network.
    synthesis.set_var('lod', 0.0)
    G.set_var('lod', 1.0)
    z = np.random.RandomState(8).randn(4, 32)
    dlatents = G.components.mapping.run(z, None)
    images = G.run(z, None, truncation_psi=1, randomize_noise=False)
    want = S8.run(dlatents[:, :4], randomize_noise=False).repeat(2, axis=2).repeat(2, axis=3)
    assert_close(images, want, 'G_main at lod 1')


def test_progressive_discriminator(sess):
    D = tflib.Network('D', func_name=MODULE + 'D_stylegan', **TINY_D_KWARGS)
    assert list(D.vars) == expected_D_stylegan_vars(4)
    randomize_vars(D, 9)
    D8 = tflib.Network('D8', func_name=MODULE + 'D_stylegan', structure='fixed', **dict(TINY_D_KWARGS, resolution=8))
    assert list(D8.vars) == [n for n in expected_D_stylegan_vars(3) if 'FromRGB_lod' not in n or '_lod0' in n]
    copy_to_lower_resolution(D, D8, lod_shift=1)

    images = np.random.RandomState(10).randn(8, 3, 16, 16).astype(np.float32)
    run = lambda structure: D.run(images, None, structure=structure)
    fixed = run('fixed')
    assert fixed.shape == (8, 1)
    assert_close(run('linear'), fixed, 'linear vs fixed at lod 0')
    assert_close(run('recursive'), fixed, 'recursive vs fixed at lod 0')

    D.set_var('lod', 1.0)
    want = D8.run(images.reshape(8, 3, 8, 2, 8, 2).mean(axis=(3, 5)), None)
    assert_close(run('linear'), want, 'linear at lod 1')
    assert_close(run('recursive'), want, 'recursive at lod 1')

    D.set_var('lod', 0.5)
    assert_close(run('recursive'), run('linear'), 'recursive vs linear at lod 0.5')
    assert np.abs(run('linear') - fixed).max() > 1e-3 and np.abs(run('linear') - want).max() > 1e-3


def test_progressive_training_graph(sess):
    """The training graphs (recursive structure) give gradients to exactly the layers that lod uses."""
    G = tflib.Network('G', func_name=MODULE + 'G_main', synthesis_func='G_synthesis_stylegan_revised', **TINY_G_KWARGS)
    D = tflib.Network('D', func_name=MODULE + 'D_stylegan', **TINY_D_KWARGS)
    randomize_vars(G, 11)
    randomize_vars(D, 12)
    images = G.get_output_for(tf.random_normal([8, 32]), None, is_training=True)
    scores = D.get_output_for(images, None, is_training=True)
    trainables = dict(('G/' + name, var) for name, var in G.trainables.items())
    trainables.update(('D/' + name, var) for name, var in D.trainables.items())
    names = sorted(trainables)
    grads = tf.gradients(tf.reduce_sum(scores), [trainables[name] for name in names])
    assert all(g is not None for g in grads)

    unused_at_lod = {
        0: ['G/G_synthesis/ToRGB_lod1/', 'G/G_synthesis/ToRGB_lod2/', 'D/FromRGB_lod1/', 'D/FromRGB_lod2/'],
        1: ['G/G_synthesis/16x16/', 'G/G_synthesis/ToRGB_lod0/', 'G/G_synthesis/ToRGB_lod2/',
            'D/FromRGB_lod0/', 'D/16x16/', 'D/FromRGB_lod2/'],
    }
    for lod, unused in unused_at_lod.items():
        G.set_var('lod', lod)
        D.set_var('lod', lod)
        values = sess.run(grads)
        assert all(np.all(np.isfinite(g)) for g in values)
        zero = [name for name, g in zip(names, values) if not np.any(g)]
        assert zero == [name for name in names if any(name.startswith(prefix) for prefix in unused)], lod
        assert len(zero) < len(names) // 2
