"""`Network`: a TF1 graph-mode network built from a Python build function, with its pickle format.

A Network owns the variables its build function creates under a unique variable scope. It can be
evaluated symbolically (`get_output_for`) or on NumPy arrays (`run`), cloned, averaged, and pickled.

The pickle state is the official one (version 4): name, static kwargs, components, the full source
text of the module that defines the build function, the function's name, and the network's own
variables as `(local_name, value)` pairs. Unpickling executes that source in a fresh module, so a
pickle carries the code that built it.
"""

import ast
import contextlib
import importlib
import inspect
import pickle
import re
import sys
import threading
import types
import uuid
from collections import OrderedDict
from typing import Any, List, Tuple, Union

import numpy as np
import tensorflow.compat.v1 as tf

from .. import util
from . import tfutil
from .tfutil import TfExpression, TfExpressionEx

# Functions that rewrite an unpickled state dict before it is used: `state = handler(state)`.
# Register with `@import_handler`; used to load pickles written by older code.
_import_handlers = []

# Source text of every module created by unpickling, by module object (`inspect.getsource` cannot
# see code that was exec'd).
_import_module_src = {}

_PICKLE_VERSION = 4
_SUPPORTED_PICKLE_VERSIONS = (2, 3, 4)
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]*$")


# Build modules that this project implements itself, with functions that identify them. A pickle whose
# embedded module source defines all the identifying functions is built with our module; its source is
# never executed.
KNOWN_BUILD_MODULES = (
    ("training.networks_stylegan2", ("G_main", "G_mapping", "G_synthesis_stylegan2", "D_stylegan2")),
    ("training.networks_stylegan", ("G_style", "G_mapping", "G_synthesis", "D_basic")),
)

# The globals a network pickle needs: Network, and NumPy's array reconstruction (NumPy 1 and 2 names).
SAFE_PICKLE_GLOBALS = frozenset([
    ("dnnlib.tflib.network", "Network"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
])


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle needs something that a network pickle loaded in safe mode may not have."""


_loading_policy = threading.local()  # .allow_code_execution while a load_network_pickle() runs.


def import_handler(handler_func):
    """Decorator: register a function that rewrites unpickled Network states."""
    _import_handlers.append(handler_func)
    return handler_func


def _code_execution_allowed() -> bool:
    return getattr(_loading_policy, "allow_code_execution", True)


@contextlib.contextmanager
def _loading(allow_code_execution: bool):
    previous = getattr(_loading_policy, "allow_code_execution", True)
    _loading_policy.allow_code_execution = allow_code_execution
    try:
        yield
    finally:
        _loading_policy.allow_code_execution = previous


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in SAFE_PICKLE_GLOBALS:
            raise UnsafePickleError("it refers to %s.%s, which a network pickle does not need "
                                    "(only Network and NumPy arrays are allowed in safe mode)" % (module, name))
        return super().find_class(module, name)


def load_network_pickle(file, allow_code_execution: bool = False) -> Any:
    """Unpickle a file of Networks (e.g. the official `(G, D, Gs)` triple).

    Safe mode (the default) refuses pickles that reference anything but `Network` and NumPy arrays, and
    builds networks only with the build functions of this project (see `KNOWN_BUILD_MODULES`), never by
    executing the module source embedded in the pickle. `allow_code_execution=True` unpickles as the
    official code does: any class, and embedded source is executed for unknown build functions.
    """
    with _loading(allow_code_execution):
        if allow_code_execution:
            return pickle.load(file, encoding="latin1")
        return _SafeUnpickler(file, encoding="latin1").load()


def _top_level_function_names(src: str) -> set:
    """Names of the functions a module source defines at top level (parsed, not executed)."""
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return set()
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _find_known_build_func(src: str, func_name: str) -> Any:
    """Our own implementation of `func_name` if `src` is one of the known build modules, else None."""
    defined = _top_level_function_names(src)
    for module_name, identifying_funcs in KNOWN_BUILD_MODULES:
        if func_name in defined and all(name in defined for name in identifying_funcs):
            func = getattr(importlib.import_module(module_name), func_name, None)
            if func is not None:
                return func
    return None


def _source_for_tf_compat_v1(src: str) -> str:
    """Make a module written against the TF1 API (`import tensorflow as tf`) run on TF 2.x."""
    return re.sub(r"^(\s*)import tensorflow as tf\s*$", r"\1import tensorflow.compat.v1 as tf",
                  src, flags=re.MULTILINE)


class Network:
    """A network built by calling a build function inside its own variable scope.

    Args:
        name: Network name, also the base of its variable scope (`G`, `D`, `Gs`, ...).
            Defaults to the build function's name.
        func_name: The build function: a top-level Python function, or its fully qualified name
            (`'training.networks_stylegan2.G_main'`).
        static_kwargs: Keyword arguments passed to the build function on every call (pickled).

    The build function takes the network's inputs as positional parameters without defaults (their
    names become `input_names`), keyword arguments, `is_template_graph` and `components`, and must
    return a tensor or a tuple of tensors with known ranks.
    """

    def __init__(self, name: str = None, func_name: Any = None, **static_kwargs):
        tfutil.assert_tf_initialized()
        assert isinstance(name, str) or name is None
        assert func_name is not None, "Network needs func_name"
        assert isinstance(func_name, str) or util.is_top_level_function(func_name)
        assert util.is_pickleable(static_kwargs), "static_kwargs of a Network must be pickleable"

        self._init_fields()
        self.name = name
        self.static_kwargs = util.EasyDict(static_kwargs)

        if util.is_top_level_function(func_name):
            func_name = util.get_top_level_function_name(func_name)
        module, self._build_func_name = util.get_module_from_obj_name(func_name)
        self._build_func = util.get_obj_from_module(module, self._build_func_name)
        assert callable(self._build_func), "%s is not callable" % func_name

        self._build_module_src = _import_module_src.get(module, None)
        if self._build_module_src is None:
            self._build_module_src = inspect.getsource(module)

        self._init_graph()
        self.reset_own_vars()

    def _init_fields(self) -> None:
        self.name = None  # User-specified name, defaults to the build function name.
        self.scope = None  # Unique TF variable and name scope of the network.
        self.static_kwargs = util.EasyDict()  # Arguments passed to the build function.
        self.components = util.EasyDict()  # Sub-networks, by key. Pickled with the network.
        self.num_inputs = 0  # Number of input tensors.
        self.num_outputs = 0  # Number of output tensors.
        self.input_shapes = [[]]  # Input shapes, the batch dimension None.
        self.output_shapes = [[]]  # Output shapes, the batch dimension None.
        self.input_shape = []  # Shape of the first input.
        self.output_shape = []  # Shape of the first output.
        self.input_templates = []  # Placeholders of the template graph.
        self.output_templates = []  # Outputs of the template graph.
        self.input_names = []  # Names of the inputs (the build function's positional parameters).
        self.output_names = []  # Names of the outputs.
        self.own_vars = OrderedDict()  # Own variables by local name, in creation order.
        self.vars = OrderedDict()  # Own and components' variables, by local name.
        self.trainables = OrderedDict()  # The trainable subset of `vars`.
        self.var_global_to_local = OrderedDict()  # Global variable name -> local name.

        self._build_func = None  # The build function.
        self._build_func_name = None  # Its name within its module.
        self._build_module_src = None  # Full source text of that module.
        self._run_cache = dict()  # Graphs built by run(), by the arguments that shaped them.

    def _init_graph(self) -> None:
        # Inputs are the build function's positional parameters without defaults.
        self.input_names = []
        for param in inspect.signature(self._build_func).parameters.values():
            if param.kind == param.POSITIONAL_OR_KEYWORD and param.default is param.empty:
                self.input_names.append(param.name)
        self.num_inputs = len(self.input_names)
        assert self.num_inputs >= 1, "the build function of a Network needs at least one input"

        if self.name is None:
            self.name = self._build_func_name
        if not _NAME_PATTERN.match(self.name):
            raise ValueError("Network name %r may contain only letters, digits, '_', '.' and '-'" % self.name)
        with tf.name_scope(None):
            self.scope = tf.get_default_graph().unique_name(self.name, mark_as_used=True)

        # Build the template graph: placeholders in, outputs out.
        build_kwargs = dict(self.static_kwargs)
        build_kwargs["is_template_graph"] = True
        build_kwargs["components"] = self.components
        with tfutil.absolute_variable_scope(self.scope, reuse=False), tfutil.absolute_name_scope(self.scope):
            assert tf.get_variable_scope().name == self.scope
            with tf.control_dependencies(None):  # Ignore surrounding control dependencies.
                self.input_templates = [tf.placeholder(tf.float32, name=name) for name in self.input_names]
                out_expr = self._build_func(*self.input_templates, **build_kwargs)

        assert tfutil.is_tf_expression(out_expr) or isinstance(out_expr, tuple)
        self.output_templates = [out_expr] if tfutil.is_tf_expression(out_expr) else list(out_expr)
        self.num_outputs = len(self.output_templates)
        assert self.num_outputs >= 1
        assert all(tfutil.is_tf_expression(t) for t in self.output_templates)
        if any(t.shape.ndims is None for t in self.input_templates):
            raise ValueError("Network input shapes not defined. Please call x.set_shape() for each input.")
        if any(t.shape.ndims is None for t in self.output_templates):
            raise ValueError("Network output shapes not defined. Please call x.set_shape() where applicable.")
        assert all(isinstance(comp, Network) for comp in self.components.values())

        self.input_shapes = [tfutil.shape_to_list(t.shape) for t in self.input_templates]
        self.output_shapes = [tfutil.shape_to_list(t.shape) for t in self.output_templates]
        self.input_shape = self.input_shapes[0]
        self.output_shape = self.output_shapes[0]
        self.output_names = [t.name.split("/")[-1].split(":")[0] for t in self.output_templates]

        # Variables: own ones by local name (scope prefix and ':0' removed), then the components'.
        prefix = self.scope + "/"
        self.own_vars = OrderedDict(
            (var.name[len(prefix):].split(":")[0], var)
            for var in tf.global_variables() if var.name.startswith(prefix))
        self.vars = OrderedDict(self.own_vars)
        for comp in self.components.values():
            self.vars.update((comp.name + "/" + name, var) for name, var in comp.vars.items())
        self.trainables = OrderedDict((name, var) for name, var in self.vars.items() if var.trainable)
        self.var_global_to_local = OrderedDict((var.name.split(":")[0], name) for name, var in self.vars.items())

    # ------------------------------------------------------------------------------------------------
    # Variables.

    def reset_own_vars(self) -> None:
        """Re-initialize the network's own variables."""
        tfutil.run([var.initializer for var in self.own_vars.values()])

    def reset_vars(self) -> None:
        """Re-initialize all variables, components' included."""
        tfutil.run([var.initializer for var in self.vars.values()])

    def reset_trainables(self) -> None:
        """Re-initialize the trainable variables, components' included."""
        tfutil.run([var.initializer for var in self.trainables.values()])

    def get_var_local_name(self, var_or_global_name: Union[TfExpression, str]) -> str:
        """Local name (`'4x4/Conv/weight'`) of a variable or of a global variable name."""
        assert tfutil.is_tf_expression(var_or_global_name) or isinstance(var_or_global_name, str)
        global_name = var_or_global_name if isinstance(var_or_global_name, str) else var_or_global_name.name
        return self.var_global_to_local[global_name.split(":")[0]]

    def find_var(self, var_or_local_name: Union[TfExpression, str]) -> TfExpression:
        """The variable with this local name (a variable is returned as it is)."""
        assert tfutil.is_tf_expression(var_or_local_name) or isinstance(var_or_local_name, str)
        if isinstance(var_or_local_name, str):
            if var_or_local_name not in self.vars:
                raise KeyError("Network %r has no variable %r" % (self.name, var_or_local_name))
            return self.vars[var_or_local_name]
        return var_or_local_name

    def get_var(self, var_or_local_name: Union[TfExpression, str]) -> np.ndarray:
        """Value of a variable as a NumPy array."""
        return self.find_var(var_or_local_name).eval()

    def set_var(self, var_or_local_name: Union[TfExpression, str], new_value: Union[int, float, np.ndarray]) -> None:
        """Assign a NumPy value to a variable."""
        tfutil.set_vars({self.find_var(var_or_local_name): new_value})

    def copy_own_vars_from(self, src_net: "Network") -> None:
        """Copy the values of the own variables that `src_net` also has (matched by local name)."""
        self._copy_vars_by_name(self.own_vars, src_net.own_vars)

    def copy_vars_from(self, src_net: "Network") -> None:
        """Copy the values of all variables that `src_net` also has (matched by local name)."""
        self._copy_vars_by_name(self.vars, src_net.vars)

    def copy_trainables_from(self, src_net: "Network") -> None:
        """Copy the values of the trainable variables that `src_net` also has."""
        self._copy_vars_by_name(self.trainables, src_net.trainables)

    @staticmethod
    def _copy_vars_by_name(dst_vars: dict, src_vars: dict) -> None:
        names = [name for name in dst_vars if name in src_vars]
        values = tfutil.run([src_vars[name] for name in names])
        tfutil.set_vars({dst_vars[name]: value for name, value in zip(names, values)})

    # ------------------------------------------------------------------------------------------------
    # Building graphs.

    def get_output_for(self, *in_expr: TfExpression, return_as_list: bool = False, **dynamic_kwargs) -> Union[TfExpression, List[TfExpression]]:
        """Build the network for the given input expressions; returns its output expression(s).

        `None` inputs become zeros of the template shape, with the batch size of the first given input.
        Dynamic kwargs override the static ones for this call only.
        """
        assert len(in_expr) == self.num_inputs, "%s takes %d inputs, got %d" % (self.name, self.num_inputs, len(in_expr))
        assert not all(expr is None for expr in in_expr), "at least one input must be given"

        build_kwargs = dict(self.static_kwargs)
        build_kwargs.update(dynamic_kwargs)
        build_kwargs["is_template_graph"] = False
        build_kwargs["components"] = self.components

        with tfutil.absolute_variable_scope(self.scope, reuse=True), tf.name_scope(self.name):
            assert tf.get_variable_scope().name == self.scope
            first_given = next(expr for expr in in_expr if expr is not None)
            final_inputs = []
            for expr, name, shape in zip(in_expr, self.input_names, self.input_shapes):
                if expr is not None:
                    expr = tf.identity(expr, name=name)
                else:
                    expr = tf.zeros([tf.shape(first_given)[0]] + shape[1:], name=name)
                final_inputs.append(expr)
            out_expr = self._build_func(*final_inputs, **build_kwargs)

        # Propagate the input shapes the build function set back to the caller's tensors.
        for expr, final in zip(in_expr, final_inputs):
            if isinstance(expr, tf.Tensor):
                expr.set_shape(final.shape)

        assert tfutil.is_tf_expression(out_expr) or isinstance(out_expr, tuple)
        if return_as_list:
            out_expr = [out_expr] if tfutil.is_tf_expression(out_expr) else list(out_expr)
        return out_expr

    def clone(self, name: str = None, **new_static_kwargs) -> "Network":
        """A new network with the same build function and variable values, its own variables."""
        net = object.__new__(Network)
        net._init_fields()
        net.name = name if name is not None else self.name
        net.static_kwargs = util.EasyDict(self.static_kwargs)
        net.static_kwargs.update(new_static_kwargs)
        net._build_module_src = self._build_module_src
        net._build_func_name = self._build_func_name
        net._build_func = self._build_func
        net._init_graph()
        net.copy_vars_from(self)
        return net

    def convert(self, new_func_name: str, new_name: str = None, **new_static_kwargs) -> "Network":
        """A new network from another build function, with every variable of matching name copied."""
        if new_name is None:
            new_name = self.name
        static_kwargs = dict(self.static_kwargs)
        static_kwargs.update(new_static_kwargs)
        net = Network(name=new_name, func_name=new_func_name, **static_kwargs)
        net.copy_vars_from(self)
        return net

    def setup_as_moving_average_of(self, src_net: "Network", beta: TfExpressionEx = 0.99, beta_nontrainable: TfExpressionEx = 0.0) -> tf.Operation:
        """An op that moves each variable towards `src_net`'s: var <- lerp(src, var, beta).

        Non-trainable variables use `beta_nontrainable` (0: plain copy).
        """
        with tfutil.absolute_name_scope(self.scope + "/_MovingAvg"):
            ops = []
            for name, var in self.vars.items():
                if name in src_net.vars:
                    cur_beta = beta if name in self.trainables else beta_nontrainable
                    new_value = tfutil.lerp(src_net.vars[name], var, cur_beta)
                    ops.append(var.assign(new_value))
            return tf.group(*ops)

    # ------------------------------------------------------------------------------------------------
    # Running on NumPy arrays.

    def run(self, *in_arrays: Tuple[Union[np.ndarray, None], ...], input_transform: dict = None,
            output_transform: dict = None, return_as_list: bool = False, print_progress: bool = False,
            minibatch_size: int = None, num_gpus: int = 1, assume_frozen: bool = False,
            **dynamic_kwargs) -> Union[np.ndarray, Tuple[np.ndarray, ...], List[np.ndarray]]:
        """Run the network on NumPy arrays, in minibatches, split over `num_gpus` devices.

        Args:
            in_arrays: One array per input (`None` = zeros), all with the same batch size N.
            input_transform: `{'func': top-level function, **kwargs}` applied to the input tensors.
            output_transform: Likewise for the output tensors (e.g. `convert_images_to_uint8`).
            return_as_list: Always return a list, even for a single output.
            print_progress: Print the progress of the minibatch loop.
            minibatch_size: Items per `session.run` (default: all N at once).
            num_gpus: Number of devices to split each minibatch over (`/gpu:0`, ...).
            assume_frozen: Use clones of the network on each GPU (the variables do not change).
            dynamic_kwargs: Passed to the build function (e.g. `truncation_psi=0.7`).

        Returns:
            The output array(s), batch size N.
        """
        assert len(in_arrays) == self.num_inputs, "%s takes %d inputs, got %d" % (self.name, self.num_inputs, len(in_arrays))
        assert not all(arr is None for arr in in_arrays), "at least one input must be given"
        assert input_transform is None or util.is_top_level_function(input_transform["func"])
        output_transform, dynamic_kwargs = _handle_legacy_output_transforms(output_transform, dynamic_kwargs)
        assert output_transform is None or util.is_top_level_function(output_transform["func"])
        num_items = next(arr for arr in in_arrays if arr is not None).shape[0]
        if minibatch_size is None:
            minibatch_size = num_items

        in_expr, out_expr = self._get_run_graph(input_transform, output_transform, num_gpus, assume_frozen, dynamic_kwargs)

        out_arrays = [np.empty([num_items] + tfutil.shape_to_list(expr.shape)[1:], expr.dtype.name) for expr in out_expr]
        for mb_begin in range(0, num_items, minibatch_size):
            if print_progress:
                print("\r%d / %d" % (mb_begin, num_items), end="", flush=True)
            mb_end = min(mb_begin + minibatch_size, num_items)
            mb_in = []
            for arr, shape in zip(in_arrays, self.input_shapes):
                mb_in.append(arr[mb_begin:mb_end] if arr is not None else np.zeros([mb_end - mb_begin] + shape[1:]))
            mb_out = tf.get_default_session().run(out_expr, dict(zip(in_expr, mb_in)))
            for dst, src in zip(out_arrays, mb_out):
                dst[mb_begin:mb_end] = src
        if print_progress:
            print("\r%d / %d" % (num_items, num_items))

        if not return_as_list:
            out_arrays = out_arrays[0] if len(out_arrays) == 1 else tuple(out_arrays)
        return out_arrays

    def _get_run_graph(self, input_transform, output_transform, num_gpus, assume_frozen, dynamic_kwargs):
        """The (input placeholders, output tensors) of `run`, built once per set of arguments."""
        key = repr(_unwind_key(dict(input_transform=input_transform, output_transform=output_transform,
                                    num_gpus=num_gpus, assume_frozen=assume_frozen, dynamic_kwargs=dynamic_kwargs)))
        if key in self._run_cache:
            return self._run_cache[key]

        with tfutil.absolute_name_scope(self.scope + "/_Run"), tf.control_dependencies(None):
            with tf.device("/cpu:0"):
                in_expr = [tf.placeholder(tf.float32, name=name) for name in self.input_names]
                in_split = list(zip(*[tf.split(x, num_gpus) for x in in_expr]))

            out_split = []
            for gpu in range(num_gpus):
                with tf.device("/gpu:%d" % gpu):
                    net_gpu = self.clone() if assume_frozen else self
                    in_gpu = in_split[gpu]
                    if input_transform is not None:
                        transform_kwargs = dict(input_transform)
                        in_gpu = transform_kwargs.pop("func")(*in_gpu, **transform_kwargs)
                        in_gpu = [in_gpu] if tfutil.is_tf_expression(in_gpu) else list(in_gpu)
                    assert len(in_gpu) == self.num_inputs
                    out_gpu = net_gpu.get_output_for(*in_gpu, return_as_list=True, **dynamic_kwargs)
                    if output_transform is not None:
                        transform_kwargs = dict(output_transform)
                        out_gpu = transform_kwargs.pop("func")(*out_gpu, **transform_kwargs)
                        out_gpu = [out_gpu] if tfutil.is_tf_expression(out_gpu) else list(out_gpu)
                    assert len(out_gpu) == self.num_outputs
                    out_split.append(out_gpu)

            with tf.device("/cpu:0"):
                out_expr = [tf.concat(outputs, axis=0) for outputs in zip(*out_split)]

        self._run_cache[key] = (in_expr, out_expr)
        return in_expr, out_expr

    # ------------------------------------------------------------------------------------------------
    # Introspection.

    def list_ops(self) -> List[TfExpression]:
        """Every op of the template graph and of the graphs built from this network, in creation order."""
        prefix = self.scope + "/"
        return [op for op in tf.get_default_graph().get_operations() if op.name.startswith(prefix)]

    def list_layers(self) -> List[Tuple[str, TfExpression, List[TfExpression]]]:
        """Layers of the template graph as `(name, output_tensor, variables)`, in graph order.

        A layer is a group of variables sharing a name scope (`4x4/Conv/weight` and `4x4/Conv/bias`
        form `4x4/Conv`); a variable directly in a network's scope (`lod`, `noise0`) is its own layer.
        Components' layers are named `<component>/<layer>`. Inputs and outputs are listed too, with
        no variables.
        """
        graph_ops = tf.get_default_graph().get_operations()
        op_index = {op.name: i for i, op in enumerate(graph_ops)}

        groups = OrderedDict()  # layer name -> (op name prefix, [vars])

        def collect(net, name_prefix, op_prefix):
            for local_name, var in net.own_vars.items():
                layer = local_name.rsplit("/", 1)[0] if "/" in local_name else local_name
                groups.setdefault(name_prefix + layer, (op_prefix + layer, []))[1].append(var)
            for comp in net.components.values():
                collect(comp, name_prefix + comp.name + "/", op_prefix + comp.name + "/")

        collect(self, "", self.scope + "/")

        layers = []
        for layer_name, (op_prefix, layer_vars) in groups.items():
            layer_ops = [op for op in graph_ops if op.name.startswith(op_prefix + "/") and "/_Run/" not in op.name
                         and op.type not in ("VariableV2", "VarHandleOp", "Assign", "Identity", "Const")
                         and op.outputs]
            if layer_ops:
                output, position = layer_ops[-1].outputs[0], op_index[layer_ops[-1].name]
            else:
                output, position = layer_vars[0], op_index.get(layer_vars[0].op.name, 0)
            layers.append((position, layer_name, output, layer_vars))
        layers.sort(key=lambda item: item[0])

        inputs = [(name, t, []) for name, t in zip(self.input_names, self.input_templates)]
        outputs = [(name, t, []) for name, t in zip(self.output_names, self.output_templates)]
        return inputs + [(name, t, v) for _, name, t, v in layers] + outputs

    def print_layers(self, title: str = None, hide_layers_with_no_params: bool = False) -> None:
        """Print a table of layers: trainable parameter counts, output and weight shapes, and the total."""
        rows = [[title if title is not None else self.name, "Params", "OutputShape", "WeightShape"]]
        rows += [["---"] * 4]
        total_params = 0
        trainable_set = set(self.trainables.values())

        for layer_name, layer_output, layer_vars in self.list_layers():
            trainable_vars = [var for var in layer_vars if var in trainable_set]
            num_params = sum(int(np.prod(tfutil.shape_to_list(var.shape))) for var in trainable_vars)
            total_params += num_params
            if hide_layers_with_no_params and num_params == 0:
                continue
            weights = [var for var in trainable_vars if var.name.endswith("/weight:0")] or trainable_vars
            weight_shape = str(tuple(tfutil.shape_to_list(weights[0].shape))) if weights else "-"
            output_shape = str(tuple(tfutil.shape_to_list(layer_output.shape))).replace("None", "?")
            rows += [[layer_name, str(num_params) if num_params else "-", output_shape, weight_shape]]

        rows += [["---"] * 4]
        rows += [["Total", str(total_params), "", ""]]

        widths = [max(len(cell) for cell in column) for column in zip(*rows)]
        print()
        for row in rows:
            print("  ".join(cell + " " * (width - len(cell)) for cell, width in zip(row, widths)).rstrip())
        print()

    def setup_weight_histograms(self, title: str = None) -> None:
        """Add a `tf.summary.histogram` for every trainable variable, under `title` (default: the name)."""
        if title is None:
            title = self.name
        with tf.name_scope(None), tf.device(None), tf.control_dependencies(None):
            for local_name, var in self.trainables.items():
                if "/" in local_name:
                    parts = local_name.split("/")
                    name = title + "_" + parts[-1] + "/" + "_".join(parts[:-1])
                else:
                    name = title + "_toplevel/" + local_name
                tf.summary.histogram(name, var)

    # ------------------------------------------------------------------------------------------------
    # Pickling.

    def __getstate__(self) -> dict:
        """The official pickle state (version 4)."""
        state = dict()
        state["version"] = _PICKLE_VERSION
        state["name"] = self.name
        state["static_kwargs"] = dict(self.static_kwargs)
        state["components"] = dict(self.components)
        state["build_module_src"] = self._build_module_src
        state["build_func_name"] = self._build_func_name
        state["variables"] = list(zip(self.own_vars.keys(), tfutil.run(list(self.own_vars.values()))))
        return state

    def __setstate__(self, state: dict) -> None:
        """Rebuild the network from a pickle state: run the embedded module source, build, assign."""
        tfutil.assert_tf_initialized()
        self._init_fields()

        for handler in _import_handlers:
            state = handler(state)

        version = state.get("version")
        if version not in _SUPPORTED_PICKLE_VERSIONS:
            raise ValueError("unsupported Network pickle version %r (supported: %s)" % (version, _SUPPORTED_PICKLE_VERSIONS))
        self.name = state["name"]
        self.static_kwargs = util.EasyDict(state["static_kwargs"])
        self.components = util.EasyDict(state.get("components", {}))
        self._build_module_src = state["build_module_src"]
        self._build_func_name = state["build_func_name"]

        # Networks of this project's own build modules (official ones included) are built with our code.
        # Anything else runs the embedded source, in a module of its own, where that is allowed.
        self._build_func = _find_known_build_func(self._build_module_src, self._build_func_name)
        built_by_our_code = self._build_func is not None
        if not built_by_our_code:
            if not _code_execution_allowed():
                raise UnsafePickleError("network %r is built by %r, which this project does not implement; loading it "
                                        "would execute code stored in the pickle (allow that only for files you trust)"
                                        % (self.name, self._build_func_name))
            self._build_func = self._exec_build_module()

        self._init_graph()
        self.reset_own_vars()
        unknown = [name for name, _ in state["variables"] if name not in self.own_vars]
        if unknown:
            raise ValueError("network %r in the pickle has variables that %s does not create: %s"
                             % (self.name, self._build_func_name, ", ".join(unknown[:5])))
        pickled_names = set(name for name, _ in state["variables"])
        missing = [name for name in self.own_vars if name not in pickled_names]
        if built_by_our_code and missing:
            raise ValueError("network %r in the pickle lacks variables that %s creates: %s"
                             % (self.name, self._build_func_name, ", ".join(missing[:5])))
        tfutil.set_vars({self.find_var(name): value for name, value in state["variables"]})

    def _exec_build_module(self) -> Any:
        """Execute the embedded module source in a fresh module; returns the build function."""
        module_name = "_tflib_network_import_" + uuid.uuid4().hex
        module = types.ModuleType(module_name)
        sys.modules[module_name] = module
        _import_module_src[module] = self._build_module_src
        code = compile(_source_for_tf_compat_v1(self._build_module_src), "<%s>" % module_name, "exec")
        exec(code, module.__dict__)  # pylint: disable=exec-used
        build_func = util.get_obj_from_module(module, self._build_func_name)
        assert callable(build_func)
        return build_func


# --------------------------------------------------------------------------------------------------------
# Helpers of Network.run.

def _unwind_key(obj: Any) -> Any:
    """A repr-able, order-independent form of run()'s arguments (functions by their full name)."""
    if isinstance(obj, dict):
        return [(key, _unwind_key(value)) for key, value in sorted(obj.items())]
    if callable(obj):
        return util.get_top_level_function_name(obj)
    return obj


_legacy_transform_warned = []


def _handle_legacy_output_transforms(output_transform: dict, dynamic_kwargs: dict) -> Tuple[dict, dict]:
    """Turn the legacy `out_mul/out_add/out_shrink/out_dtype` kwargs of run() into an output transform."""
    legacy_kwargs = ["out_mul", "out_add", "out_shrink", "out_dtype"]
    if not any(kwarg in dynamic_kwargs for kwarg in legacy_kwargs):
        return output_transform, dynamic_kwargs

    if not _legacy_transform_warned:
        _legacy_transform_warned.append(True)
        print("Warning: Network.run(): the out_mul/out_add/out_shrink/out_dtype arguments are deprecated; use output_transform=dict(func=...).")
    assert output_transform is None, "legacy output kwargs cannot be combined with output_transform"

    new_kwargs = dict(dynamic_kwargs)
    new_transform = {kwarg: new_kwargs.pop(kwarg) for kwarg in legacy_kwargs if kwarg in dynamic_kwargs}
    new_transform["func"] = _legacy_output_transform_func
    return new_transform, new_kwargs


def _legacy_output_transform_func(*expr, out_mul=1.0, out_add=0.0, out_shrink=1, out_dtype=None):
    """Scale, shift, average-pool (NCHW images) and cast the outputs, as the legacy run() kwargs did."""
    if out_mul != 1.0:
        expr = [x * out_mul for x in expr]
    if out_add != 0.0:
        expr = [x + out_add for x in expr]
    if out_shrink > 1:
        ksize = [1, out_shrink, out_shrink, 1]
        expr = [tf.transpose(tf.nn.avg_pool(tf.transpose(x, [0, 2, 3, 1]), ksize=ksize, strides=ksize,
                                            padding="VALID", data_format="NHWC"), [0, 3, 1, 2]) for x in expr]
    if out_dtype is not None:
        if tf.as_dtype(out_dtype).is_integer:
            expr = [tf.round(x) for x in expr]
        expr = [tf.saturate_cast(x, out_dtype) for x in expr]
    return expr
