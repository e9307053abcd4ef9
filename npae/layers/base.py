"""The layer contract, Sequential, and weight initialisation.

Every layer maps an input ``x`` to an output ``y`` in ``forward`` and, given the upstream gradient
``dy = dL/dy``, returns ``dx = dL/dx`` in ``backward`` while writing ``dL/dtheta`` for each of its
parameters into ``self.grads`` (same keys and shapes as ``self.params``).

Conventions (see DESIGN.md):

- images are ``(N, C, H, W)``, dense data ``(N, D)``; the batch is always axis 0;
- a layer keeps one dtype: parameters, outputs and gradients share the dtype of the input;
- ``backward`` never modifies its incoming gradient or the parameters in place.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.blas import products_on_calling_thread

DEFAULT_DTYPE = np.float32
FLOAT_DTYPES = (np.float32, np.float64)


def as_generator(rng):
    """Return a ``numpy.random.Generator`` from an int seed, a Generator, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng: expected an int seed, a numpy.random.Generator or None, got {type(rng).__name__}")


def check_float_dtype(dtype, name="dtype"):
    """Normalise ``dtype`` to float32 or float64, or raise a TypeError naming ``name``."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}") from exc
    if dt.type not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {dt}")
    return dt.type


# ----------------------------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------------------------

INIT_SCHEMES = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "torch_default", "zeros")


def init_weight(scheme, shape, fan_in, fan_out, rng, dtype=DEFAULT_DTYPE):
    """Draw a weight tensor of ``shape`` from a named scheme.

    - Glorot/Xavier (tanh/sigmoid nets): Var(W) = 2 / (fan_in + fan_out);
      uniform on [-a, a] with a = sqrt(6 / (fan_in + fan_out)).
    - He/Kaiming (ReLU nets): Var(W) = 2 / fan_in; uniform with a = sqrt(6 / fan_in).
    - ``torch_default``: PyTorch's default for Linear/Conv, uniform with a = 1 / sqrt(fan_in).
    """
    rng = as_generator(rng)
    if scheme == "glorot_uniform":
        a = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-a, a, size=shape)
    elif scheme == "glorot_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    elif scheme == "he_uniform":
        a = math.sqrt(6.0 / fan_in)
        w = rng.uniform(-a, a, size=shape)
    elif scheme == "he_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    elif scheme == "torch_default":
        a = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-a, a, size=shape)
    elif scheme == "zeros":
        w = np.zeros(shape)
    else:
        raise ValueError(f"init: expected one of {', '.join(INIT_SCHEMES)}, got {scheme!r}")
    return w.astype(dtype)


def init_bias(scheme, shape, fan_in, rng, dtype=DEFAULT_DTYPE):
    """Biases start at zero, except for ``torch_default`` (uniform on +-1/sqrt(fan_in), as PyTorch)."""
    if scheme == "torch_default":
        a = 1.0 / math.sqrt(fan_in)
        return as_generator(rng).uniform(-a, a, size=shape).astype(dtype)
    return np.zeros(shape, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Layer
# ----------------------------------------------------------------------------------------------


class Layer:
    """Base class: ``forward(x, training)`` returns ``y``; ``backward(dy)`` returns ``dx`` and fills ``grads``.

    Subclasses set ``self.params`` (name -> array) in ``__init__`` and implement ``forward``/``backward``.
    ``get_config()`` returns the constructor arguments as JSON-able values (used by ``npae.io``).
    """

    #: number of non-batch axes the layer expects (None: any)
    input_ndim = None
    #: True for layers whose kernels run on Numba's thread pool (see ``npae.kernels.blas``)
    uses_numba_threads = False

    def __init__(self, name=None):
        self.params = {}
        self.grads = {}
        self.name = name
        # penalties hooked to this layer's output (see npae.penalties); managed by Sequential
        self.penalties = []

    # --- bookkeeping --------------------------------------------------------------------------
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

    def parameters(self, prefix=""):
        """Yield ``(qualified_name, param, layer, key)`` for every parameter."""
        for k, v in self.params.items():
            yield prefix + k, v, self, k

    def get_config(self):
        return {}

    def describe(self):
        """One line for summaries: ``Dense(784 -> 256)``."""
        cfg = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({cfg})"

    def _check_input(self, x, name="x"):
        """Validate the input array: a float ndarray with the layer's rank and dtype, all finite."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{type(self).__name__}.forward: {name} must be a numpy array, got {type(x).__name__}")
        if x.dtype.type not in FLOAT_DTYPES:
            raise TypeError(
                f"{type(self).__name__}.forward: {name} must be float32 or float64, got dtype {x.dtype}"
                " (convert pixels with x.astype(np.float32) / 255)"
            )
        if self.input_ndim is not None and x.ndim != self.input_ndim + 1:
            raise ValueError(
                f"{type(self).__name__}.forward: {name} must have {self.input_ndim + 1} axes "
                f"(batch first), got shape {x.shape}"
            )
        dt = self.dtype
        if dt is not None and x.dtype.type is not dt:
            raise TypeError(
                f"{type(self).__name__}.forward: {name} has dtype {x.dtype} but the layer's parameters are "
                f"{np.dtype(dt)}; a model keeps one dtype (use model.astype({np.dtype(dt).name!r}) or cast x)"
            )

    def _saved(self, name):
        """What the last forward kept for backward, or a RuntimeError if forward has not run."""
        if not hasattr(self, name):
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first")
        return getattr(self, name)

    def forward(self, x, training=False):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dy):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward_params(self, dy):
        """Write the parameter gradients only, for a first layer whose ``dx`` nobody needs.

        The default runs the full ``backward``; layers whose ``dx`` is costly (Dense) skip computing it.
        """
        self.backward(dy)

    def __call__(self, x, training=False):
        return self.forward(x, training=training)

    def __repr__(self):
        return self.describe()


def pair(value, name):
    """An int-or-pair argument as a pair of ints, or a ValueError naming ``name``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")


def positive_int(value, name, minimum=1):
    """Check ``value`` is an int >= ``minimum``; return it."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def real_in_range(value, name, low=None, high=None, include_low=True, include_high=True):
    """Check ``value`` is a finite real number in the interval ``[low, high]`` (open ends as told); return it.

    ``None`` leaves that end unbounded. A TypeError for a non-number, a ValueError naming the interval otherwise.
    """
    left = "-inf" if low is None else f"{low:g}"
    right = "inf" if high is None else f"{high:g}"
    opening = "[" if include_low and low is not None else "("
    closing = "]" if include_high and high is not None else ")"
    interval = f"{opening}{left}, {right}{closing}"
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a number in {interval}, got {value!r}")
    value = float(value)
    too_low = low is not None and (value < low or (value == low and not include_low))
    too_high = high is not None and (value > high or (value == high and not include_high))
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    return value


# ----------------------------------------------------------------------------------------------
# Sequential
# ----------------------------------------------------------------------------------------------


class Sequential(Layer):
    """A stack of layers: ``y = f_L(... f_2(f_1(x)))``.

    Backward applies the chain rule in reverse: ``dx_{l} = backward_l(dx_{l+1})``.
    Penalties attached to a layer's output (``add_penalty``) add their term to the loss during a
    training forward pass, and in backward add their gradient to that layer's upstream gradient and
    to its parameter gradients; the layer's own backward is never re-derived.
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
        self.penalty_value = 0.0

    # parameters live in the children; expose them with qualified names
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

    def parameters(self, prefix=""):
        for i, layer in enumerate(self.layers):
            yield from layer.parameters(prefix=f"{prefix}{i}.")

    def find(self, name_or_index):
        """The layer with this name, or at this index."""
        if isinstance(name_or_index, (int, np.integer)) and not isinstance(name_or_index, bool):
            if not -len(self.layers) <= name_or_index < len(self.layers):
                raise ValueError(f"layer: index {name_or_index} out of range for {len(self.layers)} layers")
            return int(name_or_index) % len(self.layers)
        names = [layer.name for layer in self.layers]
        if name_or_index not in names:
            raise ValueError(f"layer: no layer named {name_or_index!r}; names are {names}")
        return names.index(name_or_index)

    def add_penalty(self, penalty, layer=-1):
        """Attach ``penalty`` to the output of ``layer`` (a name or an index; default the last)."""
        if not hasattr(penalty, "attach"):
            raise TypeError(f"penalty: expected a penalty from npae.penalties, got {type(penalty).__name__}")
        index = self.find(layer)
        penalty.attach(self, index)
        self.layers[index].penalties.append(penalty)
        return penalty

    @property
    def uses_numba_threads(self):
        """True when a layer runs on Numba's thread pool: then the products of the Dense layers run on the
        calling thread, so that BLAS's idle threads do not compete with it (``npae.kernels.blas``)."""
        return any(layer.uses_numba_threads for layer in self.layers)

    def forward(self, x, training=False):
        """``y = f_L(... f_1(x))``; in training also sums attached penalties into ``penalty_value``."""
        with products_on_calling_thread(self.uses_numba_threads):
            return self._forward(x, training)

    def _forward(self, x, training):
        self.penalty_value = 0.0
        for layer in self.layers:
            x_in = x
            x = layer.forward(x, training=training)
            if training:
                for p in layer.penalties:
                    self.penalty_value += p.forward(x_in, x)
        return x

    def backward(self, dy, need_input_grad=True):
        """``dx = J_1^T ... J_L^T dy``, adding each attached penalty's gradient on the way.

        With ``need_input_grad=False`` (the input is data, as for an encoder) the first layer writes its
        parameter gradients only and None is returned.
        """
        with products_on_calling_thread(self.uses_numba_threads):
            return self._backward(dy, need_input_grad)

    def _backward(self, dy, need_input_grad):
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            for p in layer.penalties:
                dy = p.backward_output(dy)
            if i == 0 and not need_input_grad and not layer.penalties:
                layer.backward_params(dy)
                return None
            dx = layer.backward(dy)
            for p in layer.penalties:
                dx = p.backward_input(dx)
            dy = dx
        return dy

    def get_config(self):
        return {}

    def describe(self):
        inner = "\n".join(f"  ({i}) {layer.describe()}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]
