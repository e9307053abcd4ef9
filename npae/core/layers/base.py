"""The layer contract and ``Sequential``, the chain rule over a stack of layers.

Every layer maps an input ``x`` to an output ``y`` in ``forward`` and, given the upstream gradient
``dy = dL/dy``, returns ``dx = dL/dx`` in ``backward`` while writing ``dL/dtheta`` for each of its
parameters into ``self.grads`` (same keys and shapes as ``self.params``).

Conventions (docs/design.md has them all):

- images are ``(N, C, H, W)``, dense data ``(N, D)``; the batch is always axis 0;
- a layer keeps one dtype: parameters, outputs and gradients share the dtype of the input;
- ``backward`` never modifies its incoming gradient or the parameters in place; what it needs from the forward
  pass is what ``forward`` saved on the layer, under a name that says what it is (``self._x``);
- heavy computations go through ``npae.backends.ops``, whose reference backend is plain NumPy.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..checks import FLOAT_DTYPES, check_float_dtype
from ..registry import deserialize, serializable, serialize


#: the interval of every real number, the output range of a layer that can output anything
ANY_VALUE = (-math.inf, math.inf)


class Layer:
    """Base class: ``forward(x, training)`` returns ``y``; ``backward(dy)`` returns ``dx`` and fills ``grads``.

    Subclasses set ``self.params`` (name -> array) in ``__init__`` and implement ``forward``/``backward``.
    ``get_config()`` returns the constructor arguments as JSON-able values (used to save models).
    """

    #: number of non-batch axes the layer expects (None: any)
    input_ndim = None

    def __init__(self, name=None):
        self.params = {}
        self.grads = {}
        self.name = name

    # --- parameters -------------------------------------------------------------------------------
    @property
    def dtype(self):
        """The dtype of the parameters (None for a parameter-free layer)."""
        for p in self.params.values():
            return p.dtype.type
        return None

    def astype(self, dtype):
        """Convert parameters (and zero the gradients) to ``dtype`` in place; returns self."""
        dtype = check_float_dtype(dtype)
        for k in self.params:
            self.params[k] = self.params[k].astype(dtype)
        self.zero_grads()
        return self

    def zero_grads(self):
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def named_parameters(self, prefix=""):
        """``(name, array)`` for every parameter, e.g. ``("W", W)``; ``named_gradients`` gives the matching
        gradients in the same order, under the same names."""
        for key, value in self.params.items():
            yield prefix + key, value

    def named_gradients(self, prefix=""):
        """``(name, dL/dparameter)`` as the last ``backward`` wrote it, in the order of ``named_parameters``."""
        for key in self.params:
            yield prefix + key, self.grads[key]

    # --- description ------------------------------------------------------------------------------
    def get_config(self):
        return {}

    def describe(self):
        """One line for summaries: ``Dense(in_features=784, out_features=256, ...)``."""
        cfg = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({cfg})"

    def __repr__(self):
        return self.describe()

    # --- values ----------------------------------------------------------------------------------
    def output_range(self, input_range=ANY_VALUE):
        """``(low, high)``: an interval holding every output when every input lies in ``input_range``.

        Lets a model tell, before training, whether its output can reach the targets at all (a sigmoid output
        cannot reach pixels in 0..255). This default, for layers that can output any number (Dense,
        convolutions), is ``(-inf, inf)``.
        """
        return ANY_VALUE

    # --- checks and saved state -------------------------------------------------------------------
    def _check_input(self, x, name="x"):
        """Validate the input array: a float ndarray with the layer's rank and dtype."""
        where = f"{type(self).__name__}.forward"
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{where}: {name} must be a numpy array, got {type(x).__name__}")
        if x.dtype.type not in FLOAT_DTYPES:
            raise TypeError(
                f"{where}: {name} must be float32 or float64, got dtype {x.dtype}"
                " (convert pixels with x.astype(np.float32) / 255)"
            )
        if self.input_ndim is not None and x.ndim != self.input_ndim + 1:
            raise ValueError(f"{where}: {name} must have {self.input_ndim + 1} axes (batch first), got shape {x.shape}")
        dt = self.dtype
        if dt is not None and x.dtype.type is not dt:
            raise TypeError(
                f"{where}: {name} has dtype {x.dtype} but the layer's parameters are {np.dtype(dt)}; a model "
                f"keeps one dtype (use model.astype({np.dtype(dt).name!r}) or cast x)"
            )

    def _saved(self, name):
        """What the last forward saved for backward, or a RuntimeError if forward has not run."""
        if not hasattr(self, name):
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first")
        return getattr(self, name)

    # --- the contract -----------------------------------------------------------------------------
    def forward(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x, training=False)")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__} must implement backward(dy)")

    def backward_params(self, dy):
        """Write the parameter gradients only, for a first layer whose ``dx`` nobody needs; returns None.

        The default runs the full ``backward``; layers whose ``dx`` is costly (Dense, Conv2D) skip computing it.
        """
        self.backward(dy)

    def __call__(self, x, training=False):
        return self.forward(x, training=training)


@serializable
class Sequential(Layer):
    """A stack of layers: ``y = f_L(... f_2(f_1(x)))``.

    Backward applies the chain rule in reverse: ``dx = J_1^T (J_2^T (... J_L^T dy))``, each ``J_l^T`` applied by
    layer l's own ``backward``.

    Penalties (``npae.core.penalties``) attach to a layer's output with ``add_penalty``. A training forward pass
    adds their values to ``penalty_value`` and keeps the outputs they read; backward then adds each one's
    gradient where it belongs: ``dP/dh`` to the gradient arriving at the output ``h`` (before the layer's
    backward), and a direct gradient on the layer's own parameters, if the penalty has one, after it.
    """

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        if isinstance(layers, Layer) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers: expected a list of npae Layers, got {type(layers).__name__}")
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}]: expected an npae Layer, got {type(layer).__name__}")
        self.layers = layers
        self.penalties = {}  # layer index -> the penalties reading that layer's output
        self.penalty_value = 0.0
        self._penalised_outputs = {}

    # --- the chain rule ---------------------------------------------------------------------------
    def forward(self, x, training=False):
        """``y = f_L(... f_1(x))``; a training pass also sums the attached penalties into ``penalty_value``."""
        self.penalty_value = 0.0
        self._penalised_outputs = {}
        for i, layer in enumerate(self.layers):
            x = layer.forward(x, training=training)
            if training and i in self.penalties:
                self._penalised_outputs[i] = x
                self.penalty_value += sum(p.value(x, layer) for p in self.penalties[i])
        return x

    def backward(self, dy, need_input_grad=True):
        """``dx = J_1^T ... J_L^T dy``, adding each penalty's gradient where it attaches.

        With ``need_input_grad=False`` (the input is data, as for an encoder) the first layer writes its
        parameter gradients only and None is returned.
        """
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            dy, direct = self._add_penalty_gradients(i, dy)
            dy = layer.backward(dy) if i > 0 or need_input_grad else layer.backward_params(dy)
            for key, grad in direct:
                layer.grads[key] = layer.grads[key] + grad
        return dy

    def _add_penalty_gradients(self, i, dy):
        """``(dy + sum dP/dh, [(key, direct dP/dparam)])`` for the penalties on layer i's output ``h``."""
        direct = []
        if i in self._penalised_outputs:
            for penalty in self.penalties[i]:
                grad_h, grad_params = penalty.gradients(self._penalised_outputs[i], self.layers[i])
                dy = dy + grad_h
                direct += grad_params.items()
        return dy, direct

    def output_range(self, input_range=ANY_VALUE):
        """The range after each layer in turn: ``f_L(... f_1(input_range))``."""
        for layer in self.layers:
            input_range = layer.output_range(input_range)
        return input_range

    # --- penalties --------------------------------------------------------------------------------
    def find(self, name_or_index):
        """The index of the layer with this name, or at this index (negative counts from the end)."""
        if isinstance(name_or_index, numbers.Integral) and not isinstance(name_or_index, (bool, np.bool_)):
            if not -len(self.layers) <= name_or_index < len(self.layers):
                raise ValueError(f"layer: index {name_or_index} out of range for {len(self.layers)} layers")
            return int(name_or_index) % len(self.layers)
        names = [layer.name for layer in self.layers]
        if name_or_index not in names:
            raise ValueError(f"layer: no layer named {name_or_index!r}; names are {names}")
        return names.index(name_or_index)

    def add_penalty(self, penalty, layer=-1):
        """Attach an activity penalty to the output of ``layer`` (a name or an index; default the last)."""
        if not callable(getattr(penalty, "attach", None)):
            raise TypeError(f"penalty: expected a penalty from npae.core.penalties, got {type(penalty).__name__}")
        hooked = penalty.attach(self, self.find(layer))
        self.penalties.setdefault(hooked, []).append(penalty)
        return penalty

    # --- parameters live in the children: qualified names ``"<index>.<key>"`` ------------------------
    @property
    def dtype(self):
        for layer in self.layers:
            if layer.dtype is not None:
                return layer.dtype
        return None

    def astype(self, dtype):
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def zero_grads(self):
        for layer in self.layers:
            layer.zero_grads()

    def named_parameters(self, prefix=""):
        for i, layer in enumerate(self.layers):
            yield from layer.named_parameters(prefix=f"{prefix}{i}.")

    def named_gradients(self, prefix=""):
        for i, layer in enumerate(self.layers):
            yield from layer.named_gradients(prefix=f"{prefix}{i}.")

    def get_config(self):
        return {"layers": [serialize(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config):
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise ValueError(f"a Sequential needs a list 'layers', got {layers!r:.200}")
        return cls([deserialize(spec) for spec in layers])

    def describe(self):
        inner = "\n".join(f"  ({i}) {layer.describe()}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]
