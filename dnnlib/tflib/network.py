"""`Network`: a TF1 graph-mode network made by a Python build function, and everything done with it.

A build function is a top-level function whose positional parameters without defaults are the
network's inputs; it is called with keyword arguments (the network's `static_kwargs`, plus
`is_template_graph` and `components`) and returns a tensor or a tuple of tensors of known rank. A
Network calls it once when it is made, under a variable scope of its own, to create its variables and a
*template graph*; every later call (`get_output_for`, `run`) reuses those variables.

Pickling (`pickle.dump(net)`) writes the official state (see `network_pickle`), including the source of
the build function's module; `network_pickle.load` reads it back, safely by default.
"""

import inspect
import re
from collections import OrderedDict
from typing import Any, Iterator, List, Tuple, Union

import numpy as np
import tensorflow.compat.v1 as tf

from .. import util
from . import network_pickle
from . import tfutil
from .tfutil import TfExpression, TfExpressionEx

# Kept importable from here, where earlier versions defined them.
from .network_pickle import UnsafePickleError, import_handler, load_network_pickle  # noqa: F401  pylint: disable=unused-import

_VALID_NAME = re.compile(r"^[A-Za-z0-9_.\-]*$")

# Op types that belong to a layer's variables rather than to its computation (list_layers skips them).
_VARIABLE_OP_TYPES = frozenset(["VariableV2", "VarHandleOp", "Assign", "Identity", "Const"])

_LEGACY_RUN_KWARGS = ("out_mul", "out_add", "out_shrink", "out_dtype")
_legacy_warning_printed = [False]


def _required_positional_params(func) -> List[str]:
    """Names of the parameters of `func` that are positional and have no default: the network inputs."""
    params = inspect.signature(func).parameters.values()
    return [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]


def _tensor_list(result: Any) -> List[TfExpression]:
    """A build function's or transform's result (one tensor or a tuple/list of them) as a list."""
    if tfutil.is_tf_expression(result):
        return [result]
    assert isinstance(result, (tuple, list)), "expected a tensor or a tuple of tensors, got %r" % type(result)
    return list(result)


def _shape_lists(tensors: List[TfExpression]) -> List[List[Any]]:
    return [tfutil.shape_to_list(t.shape) for t in tensors]


def _op_basename(tensor: TfExpression) -> str:
    """`'G/G_synthesis/images_out:0'` -> `'images_out'`."""
    return tensor.name.rsplit("/", 1)[-1].split(":", 1)[0]


def _resolve_build_func(func_name: Any) -> Tuple[Any, str, str]:
    """(function, its name inside its module, the module's source) for a function or a dotted name."""
    if util.is_top_level_function(func_name):
        func_name = util.get_top_level_function_name(func_name)
    module, name_in_module = util.get_module_from_obj_name(func_name)
    func = util.get_obj_from_module(module, name_in_module)
    assert callable(func), "%s is not callable" % func_name
    return func, name_in_module, network_pickle.module_source(module)


class Network:
    """A network built by calling a build function inside its own variable scope.

    Args:
        name: Network name, also the base of its unique variable scope (`G`, `D`, `Gs`, ...).
            Defaults to the build function's name. Letters, digits, `_`, `.` and `-` only.
        func_name: The build function: a top-level Python function, or its fully qualified name
            (`'training.networks_stylegan2.G_main'`).
        static_kwargs: Keyword arguments given to the build function on every call (pickled).

    Attributes (read-only): `name`, `scope`, `static_kwargs`, `components` (sub-networks by key),
    `num_inputs`, `num_outputs`, `input_names`, `output_names`, `input_shapes`, `output_shapes`
    (lists with `None` for the batch), `input_shape`, `output_shape` (the first ones), `input_templates`,
    `output_templates` (the template graph's tensors), `own_vars` (own variables by local name, in
    creation order), `vars` (own, then each component's as `<component name>/<local name>`),
    `trainables` (the trainable part of `vars`), `var_global_to_local`.
    """

    def __init__(self, name: str = None, func_name: Any = None, **static_kwargs):
        tfutil.assert_tf_initialized()
        assert name is None or isinstance(name, str)
        assert func_name is not None, "Network needs func_name"
        assert isinstance(func_name, str) or util.is_top_level_function(func_name)
        assert util.is_pickleable(static_kwargs), "static_kwargs of a Network must be pickleable"
        self._setup(name, static_kwargs, {}, *_resolve_build_func(func_name))
        self.reset_own_vars()

    def _setup(self, name, static_kwargs, components, build_func, build_func_name, build_module_src) -> None:
        """Set every field and build the template graph. Variables are created but not initialised."""
        self._build_func, self._build_func_name, self._build_module_src = build_func, build_func_name, build_module_src
        self._run_cache = {}  # run() graphs, by a key made of the arguments that shape them.
        self.static_kwargs = util.EasyDict(static_kwargs)
        self.components = util.EasyDict(components)

        self.input_names = _required_positional_params(build_func)
        self.num_inputs = len(self.input_names)
        assert self.num_inputs >= 1, "the build function of a Network needs at least one input"
        self.name = build_func_name if name is None else name
        if not _VALID_NAME.match(self.name):
            raise ValueError("Network name %r may contain only letters, digits, '_', '.' and '-'" % self.name)
        with tf.name_scope(None):
            self.scope = tf.get_default_graph().unique_name(self.name, mark_as_used=True)

        self._build_template_graph()
        self._index_variables()

    def _build_template_graph(self) -> None:
        """Call the build function on float32 placeholders, creating the variables; check the shapes."""
        with tfutil.absolute_variable_scope(self.scope, reuse=False), tfutil.absolute_name_scope(self.scope):
            assert tf.get_variable_scope().name == self.scope
            # The template must not depend on whatever the caller happens to be building.
            with tf.control_dependencies(None):
                placeholders = self._input_placeholders()
                outputs = _tensor_list(self._call_build_func(placeholders, {}, is_template=True))
        assert outputs and all(tfutil.is_tf_expression(t) for t in outputs)
        assert all(isinstance(comp, Network) for comp in self.components.values())
        for tensors, advice in ((placeholders, "input shapes not defined. Please call x.set_shape() for each input"),
                                (outputs, "output shapes not defined. Please call x.set_shape() where applicable")):
            if any(t.shape.ndims is None for t in tensors):
                raise ValueError("Network %s." % advice)

        self.input_templates, self.output_templates = placeholders, outputs
        self.num_outputs = len(outputs)
        self.input_shapes, self.output_shapes = _shape_lists(placeholders), _shape_lists(outputs)
        self.input_shape, self.output_shape = self.input_shapes[0], self.output_shapes[0]
        self.output_names = [_op_basename(t) for t in outputs]

    def _input_placeholders(self) -> List[TfExpression]:
        """One float32 placeholder of unknown shape per input, named after it."""
        return [tf.placeholder(tf.float32, name=name) for name in self.input_names]

    def _call_build_func(self, inputs: List[TfExpression], dynamic_kwargs: dict, is_template: bool) -> Any:
        """The build function's result on `inputs`: a tensor or a tuple of tensors."""
        kwargs = dict(self.static_kwargs)
        kwargs.update(dynamic_kwargs)
        kwargs.update(is_template_graph=is_template, components=self.components)
        result = self._build_func(*inputs, **kwargs)
        assert tfutil.is_tf_expression(result) or isinstance(result, tuple), \
            "the build function of %s returned %s, not a tensor or a tuple of tensors" % (self.name, type(result).__name__)
        return result

    def _index_variables(self) -> None:
        """Fill own_vars, vars, trainables and var_global_to_local from the graph's global variables."""
        prefix = self.scope + "/"
        self.own_vars = OrderedDict()
        for var in tf.global_variables():
            if var.name.startswith(prefix):
                self.own_vars[var.name[len(prefix):].split(":")[0]] = var
        self.vars = OrderedDict(self.own_vars)
        for comp in self.components.values():
            for local_name, var in comp.vars.items():
                self.vars["%s/%s" % (comp.name, local_name)] = var
        self.trainables = OrderedDict((k, v) for k, v in self.vars.items() if v.trainable)
        self.var_global_to_local = OrderedDict((v.name.split(":")[0], k) for k, v in self.vars.items())

    # ------------------------------------------------------------------------------------------------
    # Variables.

    def reset_own_vars(self) -> None:
        """Re-initialise the network's own variables."""
        self._initialize(self.own_vars)

    def reset_vars(self) -> None:
        """Re-initialise all variables, the components' included."""
        self._initialize(self.vars)

    def reset_trainables(self) -> None:
        """Re-initialise the trainable variables, the components' included."""
        self._initialize(self.trainables)

    @staticmethod
    def _initialize(variables: dict) -> None:
        tfutil.run([var.initializer for var in variables.values()])

    def get_var_local_name(self, var_or_global_name: Union[TfExpression, str]) -> str:
        """Local name (`'4x4/Conv/weight'`) of a variable, or of a global variable name."""
        assert tfutil.is_tf_expression(var_or_global_name) or isinstance(var_or_global_name, str)
        global_name = getattr(var_or_global_name, "name", var_or_global_name)
        return self.var_global_to_local[global_name.split(":")[0]]

    def find_var(self, var_or_local_name: Union[TfExpression, str]) -> TfExpression:
        """The variable of a local name; a variable is returned as it is."""
        assert tfutil.is_tf_expression(var_or_local_name) or isinstance(var_or_local_name, str)
        if not isinstance(var_or_local_name, str):
            return var_or_local_name
        try:
            return self.vars[var_or_local_name]
        except KeyError:
            raise KeyError("Network %r has no variable %r" % (self.name, var_or_local_name)) from None

    def get_var(self, var_or_local_name: Union[TfExpression, str]) -> np.ndarray:
        """A variable's value as a NumPy array."""
        return self.find_var(var_or_local_name).eval()

    def set_var(self, var_or_local_name: Union[TfExpression, str], new_value: Union[int, float, np.ndarray]) -> None:
        """Assign a NumPy value to a variable."""
        tfutil.set_vars({self.find_var(var_or_local_name): new_value})

    def copy_own_vars_from(self, src_net: "Network") -> None:
        """Copy the own variables that `src_net` also has (matched by local name)."""
        _copy_matching(self.own_vars, src_net.own_vars)

    def copy_vars_from(self, src_net: "Network") -> None:
        """Copy all variables that `src_net` also has (matched by local name)."""
        _copy_matching(self.vars, src_net.vars)

    def copy_trainables_from(self, src_net: "Network") -> None:
        """Copy the trainable variables that `src_net` also has."""
        _copy_matching(self.trainables, src_net.trainables)

    # ------------------------------------------------------------------------------------------------
    # Graphs and new networks.

    def get_output_for(self, *in_expr: TfExpression, return_as_list: bool = False,
                       **dynamic_kwargs) -> Union[TfExpression, List[TfExpression]]:
        """Build the network on input tensors; returns its output tensor(s).

        A `None` input becomes zeros of the template shape, with the batch size of the first input
        given. `dynamic_kwargs` override the static kwargs for this call only. Input shapes that the
        build function sets are also set on the caller's tensors.
        """
        assert len(in_expr) == self.num_inputs, "%s takes %d inputs, got %d" % (self.name, self.num_inputs, len(in_expr))
        given = [x for x in in_expr if x is not None]
        assert given, "at least one input must be given"

        with tfutil.absolute_variable_scope(self.scope, reuse=True), tf.name_scope(self.name):
            assert tf.get_variable_scope().name == self.scope
            inputs = [tf.identity(x, name=name) if x is not None else
                      tf.zeros([tf.shape(given[0])[0]] + shape[1:], name=name)
                      for x, name, shape in zip(in_expr, self.input_names, self.input_shapes)]
            result = self._call_build_func(inputs, dynamic_kwargs, is_template=False)

        for caller_tensor, used in zip(in_expr, inputs):
            if isinstance(caller_tensor, tf.Tensor):
                caller_tensor.set_shape(used.shape)
        return _tensor_list(result) if return_as_list else result

    def clone(self, name: str = None, **new_static_kwargs) -> "Network":
        """A new network with the same build function and copies of the variable values."""
        net = object.__new__(Network)
        kwargs = dict(self.static_kwargs)
        kwargs.update(new_static_kwargs)
        net._setup(self.name if name is None else name, kwargs, {},  # pylint: disable=protected-access
                   self._build_func, self._build_func_name, self._build_module_src)
        net.copy_vars_from(self)
        return net

    def convert(self, new_func_name: str, new_name: str = None, **new_static_kwargs) -> "Network":
        """A new network made by another build function, with the values of all variables of matching name."""
        kwargs = dict(self.static_kwargs)
        kwargs.update(new_static_kwargs)
        net = Network(name=self.name if new_name is None else new_name, func_name=new_func_name, **kwargs)
        net.copy_vars_from(self)
        return net

    def setup_as_moving_average_of(self, src_net: "Network", beta: TfExpressionEx = 0.99,
                                   beta_nontrainable: TfExpressionEx = 0.0) -> tf.Operation:
        """An op that moves every variable towards `src_net`'s: `var <- src + (var - src) * beta`.

        Non-trainable variables use `beta_nontrainable` (0: plain copy). Variables missing in `src_net`
        are left alone.
        """
        with tfutil.absolute_name_scope(self.scope + "/_MovingAvg"):
            updates = []
            for name in (name for name in self.vars if name in src_net.vars):
                var = self.vars[name]
                weight = beta if name in self.trainables else beta_nontrainable
                updates.append(var.assign(tfutil.lerp(src_net.vars[name], var, weight)))
            return tf.group(*updates)

    # ------------------------------------------------------------------------------------------------
    # Running on NumPy arrays.

    def run(self, *in_arrays: Union[np.ndarray, None], input_transform: dict = None,
            output_transform: dict = None, return_as_list: bool = False, print_progress: bool = False,
            minibatch_size: int = None, num_gpus: int = 1, assume_frozen: bool = False,
            **dynamic_kwargs) -> Union[np.ndarray, Tuple[np.ndarray, ...], List[np.ndarray]]:
        """Run the network on NumPy arrays, in minibatches, each split over `num_gpus` devices.

        Args:
            in_arrays: One array per input, all with the same batch size N; `None` means zeros.
            input_transform: `{'func': top-level function, **kwargs}`, applied to the input tensors.
            output_transform: The same for the output tensors (e.g. `tflib.convert_images_to_uint8`).
            return_as_list: Return a list even for a single output.
            print_progress: Print the progress of the minibatch loop.
            minibatch_size: Items per `session.run` (default: all N at once).
            num_gpus: Number of devices to split every minibatch over (`/gpu:0`, `/gpu:1`, ...).
            assume_frozen: Use a clone of the network on each device (the variables do not change).
            dynamic_kwargs: Given to the build function (e.g. `truncation_psi=0.7`). The deprecated
                `out_mul`, `out_add`, `out_shrink`, `out_dtype` become an output transform.

        Returns:
            The output array(s), batch size N: one array, a tuple, or with `return_as_list` a list.
        """
        assert len(in_arrays) == self.num_inputs, "%s takes %d inputs, got %d" % (self.name, self.num_inputs, len(in_arrays))
        given = [a for a in in_arrays if a is not None]
        assert given, "at least one input must be given"
        assert input_transform is None or util.is_top_level_function(input_transform["func"])
        output_transform, dynamic_kwargs = _legacy_kwargs_to_transform(output_transform, dynamic_kwargs)
        assert output_transform is None or util.is_top_level_function(output_transform["func"])

        num_items = given[0].shape[0]
        placeholders, outputs = self._run_graph(input_transform, output_transform, num_gpus, assume_frozen, dynamic_kwargs)
        results = [np.empty([num_items] + tfutil.shape_to_list(t.shape)[1:], t.dtype.name) for t in outputs]
        session = tf.get_default_session()
        for begin, end in _minibatch_ranges(num_items, num_items if minibatch_size is None else minibatch_size):
            if print_progress:
                print("\r%d / %d" % (begin, num_items), end="", flush=True)
            feed = {}
            for placeholder, arr, shape in zip(placeholders, in_arrays, self.input_shapes):
                feed[placeholder] = np.zeros([end - begin] + shape[1:]) if arr is None else arr[begin:end]
            for result, value in zip(results, session.run(outputs, feed)):
                result[begin:end] = value
        if print_progress:
            print("\r%d / %d" % (num_items, num_items))

        if return_as_list:
            return results
        return results[0] if len(results) == 1 else tuple(results)

    def _run_graph(self, input_transform, output_transform, num_gpus, assume_frozen, dynamic_kwargs):
        """(float32 input placeholders, concatenated outputs) for run(); made once per distinct arguments."""
        key = repr(_cache_key(dict(input_transform=input_transform, output_transform=output_transform,
                                   num_gpus=num_gpus, assume_frozen=assume_frozen, dynamic_kwargs=dynamic_kwargs)))
        graph = self._run_cache.get(key)
        if graph is None:
            with tfutil.absolute_name_scope(self.scope + "/_Run"), tf.control_dependencies(None):
                graph = self._build_run_graph(input_transform, output_transform, num_gpus, assume_frozen, dynamic_kwargs)
            self._run_cache[key] = graph
        return graph

    def _build_run_graph(self, input_transform, output_transform, num_gpus, assume_frozen, dynamic_kwargs):
        # Inputs are fed and outputs gathered on the CPU; each device computes its slice of the minibatch.
        with tf.device("/cpu:0"):
            placeholders = self._input_placeholders()
            pieces = [tf.split(x, num_gpus) for x in placeholders]
        per_device = []
        # Without a GPU every tower goes to the CPU: /gpu:N would be soft-placed there anyway, but the variables
        # of a frozen clone then make TensorFlow log a page of colocation warnings.
        use_gpus = tfutil.has_gpu()
        for gpu in range(num_gpus):
            with tf.device("/gpu:%d" % gpu if use_gpus else "/cpu:0"):
                net = self.clone() if assume_frozen else self
                tower_inputs = _transformed(input_transform, [p[gpu] for p in pieces], self.num_inputs)
                tower_outputs = net.get_output_for(*tower_inputs, return_as_list=True, **dynamic_kwargs)
                per_device.append(_transformed(output_transform, tower_outputs, self.num_outputs))
        with tf.device("/cpu:0"):
            outputs = [tf.concat(parts, axis=0) for parts in zip(*per_device)]
        return placeholders, outputs

    # ------------------------------------------------------------------------------------------------
    # Introspection.

    def list_ops(self) -> List[tf.Operation]:
        """Every op of the template graph and of the graphs built from this network, in creation order."""
        return [op for op in tf.get_default_graph().get_operations() if op.name.startswith(self.scope + "/")]

    def list_layers(self) -> List[Tuple[str, TfExpression, List[TfExpression]]]:
        """The template graph's layers as `(name, output tensor, variables)`, in graph order.

        Variables that share a name scope form one layer (`4x4/Conv/weight` and `4x4/Conv/bias` are
        `4x4/Conv`); one directly in a network's scope (`lod`, `noise0`) is a layer of its own. A
        component's layers are named `<component name>/<layer>`. The inputs come first and the
        outputs last, as layers without variables. A layer's output is the last op under its name
        scope, or the first variable for a layer that has no ops of its own.
        """
        graph_ops = tf.get_default_graph().get_operations()
        position = {op.name: i for i, op in enumerate(graph_ops)}
        computing = [op for op in graph_ops
                     if op.outputs and op.type not in _VARIABLE_OP_TYPES and "/_Run/" not in op.name]

        layers = []
        for layer_name, (op_scope, layer_vars) in self._variable_groups().items():
            last_op = None
            for op in computing:
                if op.name.startswith(op_scope + "/"):
                    last_op = op
            if last_op is None:
                layers.append((position.get(layer_vars[0].op.name, 0), layer_name, layer_vars[0], layer_vars))
            else:
                layers.append((position[last_op.name], layer_name, last_op.outputs[0], layer_vars))
        layers.sort(key=lambda layer: layer[0])

        ends = [(n, t, []) for n, t in zip(self.input_names, self.input_templates)]
        return ends + [layer[1:] for layer in layers] + [(n, t, []) for n, t in zip(self.output_names, self.output_templates)]

    def _variable_groups(self) -> "OrderedDict[str, Tuple[str, List[TfExpression]]]":
        """Layer name -> (name scope of its ops, its variables), for this network and its components."""
        groups = OrderedDict()
        for layer_prefix, op_prefix, local_name, var in self._walk_variables("", self.scope + "/"):
            layer = local_name.rsplit("/", 1)[0]
            entry = groups.setdefault(layer_prefix + layer, (op_prefix + layer, []))
            entry[1].append(var)
        return groups

    def _walk_variables(self, layer_prefix: str, op_prefix: str) -> Iterator[Tuple[str, str, str, TfExpression]]:
        # A component's template ops live under its parent's scope (it is called inside the parent's build).
        for local_name, var in self.own_vars.items():
            yield layer_prefix, op_prefix, local_name, var
        for comp in self.components.values():
            yield from comp._walk_variables(layer_prefix + comp.name + "/", op_prefix + comp.name + "/")  # pylint: disable=protected-access

    def print_layers(self, title: str = None, hide_layers_with_no_params: bool = False) -> None:
        """Print a table of the layers: trainable parameters, output shape, weight shape, and the total."""
        trainable = set(self.trainables.values())
        body, total = [], 0
        for layer_name, output, layer_vars in self.list_layers():
            params = [v for v in layer_vars if v in trainable]
            count = sum(int(np.prod(tfutil.shape_to_list(v.shape))) for v in params)
            total += count
            if count == 0 and hide_layers_with_no_params:
                continue
            weights = [v for v in params if v.name.endswith("/weight:0")] or params
            body.append([layer_name, str(count) if count else "-",
                         str(tuple(tfutil.shape_to_list(output.shape))).replace("None", "?"),
                         str(tuple(tfutil.shape_to_list(weights[0].shape))) if weights else "-"])
        rule = ["---"] * 4
        header = [self.name if title is None else title, "Params", "OutputShape", "WeightShape"]
        _print_table([header, rule] + body + [rule, ["Total", str(total), "", ""]])

    def setup_weight_histograms(self, title: str = None) -> None:
        """Add a `tf.summary.histogram` of every trainable variable, named after `title` (default: the name)."""
        prefix = self.name if title is None else title
        with tf.name_scope(None), tf.device(None), tf.control_dependencies(None):
            for local_name, var in self.trainables.items():
                scope, _, leaf = local_name.rpartition("/")
                if scope:
                    tag = "%s_%s/%s" % (prefix, leaf, scope.replace("/", "_"))
                else:
                    tag = "%s_toplevel/%s" % (prefix, leaf)
                tf.summary.histogram(tag, var)

    # ------------------------------------------------------------------------------------------------
    # Pickling: the official state, see network_pickle.

    def __getstate__(self) -> dict:
        return network_pickle.network_state(self)

    def __setstate__(self, state: dict) -> None:
        # Plain pickle.load() behaves as the official code: embedded source may run.
        # network_pickle.load() decides this explicitly (safe by default).
        network_pickle.restore_network(self, state, allow_code_execution=True)


# --------------------------------------------------------------------------------------------------------
# Helpers.

def _copy_matching(dst_vars: dict, src_vars: dict) -> None:
    """Give every variable of `dst_vars` the value of the `src_vars` entry with the same key, if any."""
    pairs = [(dst, src_vars[name]) for name, dst in dst_vars.items() if name in src_vars]
    values = tfutil.run([src for _, src in pairs])
    tfutil.set_vars({dst: value for (dst, _), value in zip(pairs, values)})


def _print_table(rows: List[List[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(*rows)]
    print()
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print()


def _minibatch_ranges(num_items: int, minibatch_size: int) -> Iterator[Tuple[int, int]]:
    for begin in range(0, num_items, minibatch_size):
        yield begin, min(begin + minibatch_size, num_items)


def _transformed(transform: dict, tensors: List[TfExpression], expected_count: int) -> List[TfExpression]:
    """Apply a run() transform `{'func': f, **kwargs}` (None: no change) to a list of tensors."""
    if transform is not None:
        kwargs = dict(transform)
        tensors = _tensor_list(kwargs.pop("func")(*tensors, **kwargs))
    assert len(tensors) == expected_count
    return list(tensors)


def _cache_key(obj: Any) -> Any:
    """A form of run()'s arguments whose repr is stable: dicts sorted by key, functions by full name."""
    if isinstance(obj, dict):
        return [(key, _cache_key(obj[key])) for key in sorted(obj)]
    return util.get_top_level_function_name(obj) if callable(obj) else obj


def _legacy_kwargs_to_transform(output_transform: dict, dynamic_kwargs: dict) -> Tuple[dict, dict]:
    """Move the deprecated `out_*` kwargs of run() into an output transform (warns once per process)."""
    legacy = {key: value for key, value in dynamic_kwargs.items() if key in _LEGACY_RUN_KWARGS}
    if not legacy:
        return output_transform, dynamic_kwargs
    if not _legacy_warning_printed[0]:
        _legacy_warning_printed[0] = True
        print("Warning: Network.run(): the out_mul/out_add/out_shrink/out_dtype arguments are deprecated; "
              "use output_transform=dict(func=...).")
    assert output_transform is None, "legacy output kwargs cannot be combined with output_transform"
    remaining = {key: value for key, value in dynamic_kwargs.items() if key not in legacy}
    return dict(legacy, func=_legacy_output_transform), remaining


def _legacy_output_transform(*outputs, out_mul=1.0, out_add=0.0, out_shrink=1, out_dtype=None):
    """What the deprecated kwargs did to each output: scale, shift, box-downscale NCHW images, cast."""
    def convert(x):
        if out_mul != 1.0:
            x = x * out_mul
        if out_add != 0.0:
            x = x + out_add
        if out_shrink > 1:
            window = [1, out_shrink, out_shrink, 1]
            nhwc = tf.nn.avg_pool(tf.transpose(x, [0, 2, 3, 1]), ksize=window, strides=window, padding="VALID",
                                  data_format="NHWC")
            x = tf.transpose(nhwc, [0, 3, 1, 2])
        if out_dtype is not None:
            x = tf.saturate_cast(tf.round(x) if tf.as_dtype(out_dtype).is_integer else x, out_dtype)
        return x
    return [convert(x) for x in outputs]
