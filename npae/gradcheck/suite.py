"""The table behind ``npae gradcheck``: every gradient of the library, checked on small random problems.

For each layer, activation, loss and penalty, ``run`` checks the analytic gradients against central finite
differences (``npae.gradcheck``) and, with ``against="torch"``, ``"jax"`` or ``"torch,jax"``, against those
autograd frameworks on the same weights (``torch_bridge.py``, ``jax_bridge.py``). Each check gives one row per
tensor: the component, the tensor (``x``, ``W``, ``b``, ``pred``, ...), the max relative error and whether it
passed.

Tolerances (max relative error):

- finite differences in float64: ``1e-6`` with step ``h = 1e-6``;
- finite differences in float32: ``1e-2`` with step ``h = 2^-10``: the objective is summed in float64, but
  each output carries float32 rounding (``eps = 6e-8``), so the difference quotient is off by about
  ``eps |L| / h``, a few ``1e-4`` relative on these problems (the worst of seeds 0-5, on the VAE loss, is
  1.9e-3);
- PyTorch and JAX, always in float64: ``1e-8`` (outputs ``y`` and values are compared too).

Coverage: activations and losses are found at call time (every concrete subclass, built with its defaults);
layers and penalties that need constructor arguments have cases in ``LAYER_CASES`` and ``penalty_cases``.
Penalties are checked inside a small network, through the hooks training uses (``L = sum(dy * y) + P``). A
component of the library with no case is reported as a failing row, so a new layer cannot go unchecked.

Inputs are distinct values spread over (-2, 2), none within ``2/size`` of zero, so no finite-difference step
moves an input across a kink (ReLU at 0) or swaps a maximum (max pooling); the upstream gradient is standard
normal.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import math
import sys
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from .. import backends
from ..core import penalties
from ..core.checks import as_generator, check_float_dtype, positive_int
from ..core.layers import Activation, Dense, Layer, Sequential, Sigmoid, Softplus, Tanh
from ..core.losses import REDUCTIONS, Loss
from ..core.registry import registered
from ..training.history import ProgressBar
from .finite_differences import check_function
from ..models.zoo import mlp_vae
from . import jax_bridge, torch_bridge
from .twins import npae_gradients

FD_TOL = {np.float64: 1e-6, np.float32: 1e-2}
FD_STEP = {np.float64: 1e-6, np.float32: 2.0**-10}
#: tolerance of the autograd oracles (PyTorch, JAX), always in float64
ORACLE_TOL = 1e-8
#: the autograd frameworks ``run`` can compare with: ``{module name: (name, how to install it)}``; the twins
#: are in ``npae.gradcheck.<module>_bridge``, and a case holds each comparison under the module's name
ORACLES = {"torch": ("PyTorch", "pip install torch"), "jax": ("JAX", "pip install jax")}
NO_EQUIVALENT = (torch_bridge.NoTorchEquivalent, jax_bridge.NoJaxEquivalent)


class Row(NamedTuple):
    component: str
    tensor: str
    max_rel_error: float
    passed: bool


@dataclass(frozen=True)
class Case:
    """One component on one small problem.

    ``finite_differences(dtype, rng)``, ``torch(rng)`` and ``jax(rng)`` return ``{tensor: max relative error}``;
    ``torch`` and ``jax`` are None when the autograd frameworks have no counterpart.
    """

    component: str
    covers: str
    finite_differences: Callable
    torch: Callable | None = None
    jax: Callable | None = None


# ----------------------------------------------------------------------------------------------
# problems
# ----------------------------------------------------------------------------------------------


def spread(rng, shape, dtype=np.float64, low=-2.0, high=2.0):
    """Distinct values in (low, high) in random order, at least ``(high - low) / size`` apart.

    With the default range none lies within ``2 / size`` of zero.
    """
    size = math.prod(shape)
    ranks = rng.permutation(size) + 0.5
    return (low + (high - low) * ranks / size).reshape(shape).astype(dtype)


def layer_finite_differences(layer, x, dy, dtype, training=False, draw_seed=None):
    """Errors of ``dx`` and every parameter gradient of ``L = sum(dy * y) + P``, perturbing ``x`` and the params.

    ``P`` is the penalty a training pass of a Sequential reports (``penalty_value``; 0 without penalties).
    ``draw_seed`` resets a corruption layer's generator before every evaluation, so each sees the same draw.
    Parameters are named as ``layer.named_parameters()`` names them (``"W"``, or ``"0.W"`` inside a Sequential).
    """

    def value_and_grads():
        if draw_seed is not None:
            layer.rng = as_generator(draw_seed)
        y = layer.forward(x, training=training)
        penalty = getattr(layer, "penalty_value", 0.0) if training else 0.0
        dx = layer.backward(dy)
        return float(np.sum(dy * y, dtype=np.float64)) + penalty, {"x": dx, **npae_gradients(layer)}

    params = dict(layer.named_parameters())
    return check_function(value_and_grads, {"x": x, **params}, h=FD_STEP[dtype])


def loss_finite_differences(loss, pred, target, dtype):
    """Error of ``loss.value_and_grad``'s gradient as the derivative of its value."""

    def value_and_grads():
        value, grad = loss.value_and_grad(pred, target)
        return value, {"pred": grad}

    return check_function(value_and_grads, {"pred": pred}, h=FD_STEP[dtype])


def layer_case(label, covers, make_layer, input_shape, training=False, corruption=False, twin=True):
    """A case for ``make_layer(rng)`` (a layer, or a Sequential with penalties) on an input of ``input_shape``.

    ``training`` runs forward in training mode (attached penalties count); ``corruption`` marks a noise layer:
    checked in training mode with one fixed draw, and with no PyTorch or JAX counterpart (nor when ``twin`` is
    False).
    """

    def finite_differences(dtype, rng):
        layer = make_layer(rng).astype(dtype)
        x = spread(rng, input_shape, dtype)
        dy = rng.standard_normal(layer.forward(x).shape).astype(dtype)
        draw_seed = int(rng.integers(2**31)) if corruption else None
        return layer_finite_differences(layer, x, dy, dtype, training or corruption, draw_seed)

    def oracle(compare):
        def against(rng):
            layer = make_layer(rng).astype(np.float64)
            return compare(layer, spread(rng, input_shape), seed=rng)

        return against if twin and not corruption else None

    return Case(label, covers, finite_differences, oracle(torch_bridge.compare_with_torch),
                oracle(jax_bridge.compare_with_jax))


def loss_case(loss, shape=(3, 4)):
    """A case for ``loss`` on logits/predictions spread over (-2, 2) and targets in [0, 1]."""

    def finite_differences(dtype, rng):
        pred = spread(rng, shape, dtype)
        return loss_finite_differences(loss, pred, rng.random(shape).astype(dtype), dtype)

    def oracle(compare):
        return lambda rng: compare(loss, spread(rng, shape), rng.random(shape))

    return Case(repr(loss), type(loss).__name__, finite_differences, oracle(torch_bridge.compare_loss_with_torch),
                oracle(jax_bridge.compare_loss_with_jax))


# ----------------------------------------------------------------------------------------------
# the registry
# ----------------------------------------------------------------------------------------------

#: ``{layer class name: [(args, kwargs, input shape), ...]}``; the awkward configurations belong here.
LAYER_CASES = {
    "Dense": [((5, 4), {}, (3, 5)), ((1, 1), {}, (1, 1))],
    "Flatten": [((), {}, (2, 3, 2, 2))],
    "Reshape": [(((2, 3),), {}, (2, 6))],
    # image layers: one channel, batch of one, odd and rectangular sizes, kernel as large as the input,
    # stride larger than the kernel, padding with max pooling
    "Conv2D": [
        ((1, 2, 3), {"padding": 1}, (2, 1, 5, 5)),
        ((2, 3, (2, 3)), {"stride": (2, 1), "padding": (1, 0)}, (1, 2, 5, 6)),
        ((2, 2, 4), {}, (2, 2, 4, 4)),
        ((1, 2, 2), {"stride": 3}, (2, 1, 7, 7)),
    ],
    "Conv2DTranspose": [
        ((2, 1, 3), {}, (2, 2, 3, 3)),
        ((1, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 1, 3, 4)),
        ((2, 2, (2, 3)), {"stride": (3, 2), "padding": (0, 1)}, (1, 2, 2, 3)),
    ],
    "MaxPool2D": [
        ((2,), {}, (2, 2, 4, 4)),
        ((3,), {"stride": 2, "padding": 1}, (2, 1, 5, 5)),
        ((2,), {"stride": 3}, (1, 2, 7, 7)),
        ((4,), {}, (1, 1, 4, 4)),
    ],
    "AvgPool2D": [
        ((2,), {}, (2, 2, 4, 4)),
        (((3, 2),), {"stride": (2, 1), "padding": (1, 0)}, (2, 1, 5, 4)),
        ((2,), {"stride": 3}, (1, 2, 7, 7)),
    ],
    "UpSampling2D": [
        ((2,), {}, (2, 2, 3, 3)),
        (((2, 3),), {}, (1, 1, 2, 3)),
        (((2, 3),), {"mode": "bilinear"}, (1, 2, 3, 2)),
        ((3,), {"mode": "bilinear"}, (2, 1, 2, 2)),
    ],
    # corruptions: checked in training mode with one fixed draw (clipping zeroes some gradients)
    "GaussianNoise": [((0.5,), {}, (3, 4)), ((0.5,), {"clip": None}, (3, 4))],
    "MaskingNoise": [((0.4,), {}, (3, 4))],
    "SaltAndPepperNoise": [((0.4,), {}, (3, 4))],
    # the learned output log-variance of a Gaussian VAE: one scalar, or one per value
    "LogVariance": [((), {}, (3, 4)), ((4,), {}, (3, 4))],
}

#: layers with no PyTorch or JAX twin of their own (their autograd check is the whole model's, see ``vae_cases``)
NO_AUTOGRAD_TWIN = ("LogVariance",)


def _label(cls_name, args, kwargs):
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{cls_name}({', '.join(parts)})"


def _constructor(cls, args, kwargs):
    """``make(rng)``: builds ``cls(*args, **kwargs)``, passing ``rng`` when the constructor takes one."""
    takes_rng = "rng" in inspect.signature(cls).parameters
    return lambda rng: cls(*args, **kwargs, rng=rng) if takes_rng else cls(*args, **kwargs)


def _sequential_case():
    def make(rng):
        return Sequential([Dense(4, 3, rng=rng), Tanh(), Dense(3, 2, rng=rng)])

    return layer_case("Sequential(Dense(4, 3), Tanh(), Dense(3, 2))", "Sequential", make, (3, 4))


def _stack(rng, sizes, activations):
    """``Dense(sizes[0], sizes[1])``, ``activations[0]``, ``Dense(sizes[1], sizes[2])``, ... (activation classes)."""
    layers = []
    for n_in, n_out, activation in zip(sizes[:-1], sizes[1:], activations):
        layers += [Dense(n_in, n_out, rng=rng), activation()]
    return Sequential(layers)


def _activity_penalty_case(penalty_cls, args, activations, index):
    """``penalty_cls(*args, layer=index)`` on Dense-activation-Dense-activation (``activations``, two classes).

    On the last activation (index 3) its gradient must flow back through the first layer too; on the first
    (index 1) the second layer's gradient must pass through it.
    """

    def make(rng):
        net = _stack(rng, (5, 4, 3), activations)
        net.add_penalty(penalty_cls(*args, layer=index), index)
        return net

    names = "-".join(f"Dense-{cls.__name__}" for cls in activations)
    label = f"{_label(penalty_cls.__name__, args, {'layer': index})} on {names}"
    return layer_case(label, penalty_cls.__name__, make, (6, 5), training=True)


def _parameter_penalty_case(penalty):
    """``penalty.apply_to_parameters`` on a Dense-Tanh-Dense stack: its value and the ``W`` gradients it adds."""

    def finite_differences(dtype, rng):
        net = _stack(rng, (4, 3, 2), (Tanh, Tanh)).astype(dtype)

        def value_and_grads():
            net.zero_grads()
            value = penalty.apply_to_parameters(net)
            return value, {name: grad for name, grad in net.named_gradients() if name.endswith(".W")}

        weights = {name: param for name, param in net.named_parameters() if name.endswith(".W")}
        return check_function(value_and_grads, weights, h=FD_STEP[dtype])

    def oracle(compare):
        return lambda rng: compare(penalty, _stack(rng, (4, 3, 2), (Tanh, Tanh)).astype(np.float64))

    return Case(f"{penalty!r} on Dense-Tanh-Dense-Tanh", type(penalty).__name__, finite_differences,
                oracle(torch_bridge.compare_parameter_penalty_with_torch),
                oracle(jax_bridge.compare_parameter_penalty_with_jax))


def penalty_cases():
    """Every penalty of ``npae.core.penalties``, each inside a small network."""
    return [
        _parameter_penalty_case(penalties.WeightDecay(0.3)),
        _parameter_penalty_case(penalties.L1Weights(0.3)),
        _activity_penalty_case(penalties.L1Activity, (0.5,), (Tanh, Tanh), 3),
        _activity_penalty_case(penalties.KLSparsity, (0.2, 3.0), (Tanh, Sigmoid), 3),
        _activity_penalty_case(penalties.Contractive, (0.7,), (Tanh, Sigmoid), 3),
        _activity_penalty_case(penalties.Contractive, (0.7,), (Tanh, Softplus), 3),
        _activity_penalty_case(penalties.Contractive, (0.7,), (Tanh, Sigmoid), 1),
    ]


def _vae_case(label, **options):
    """The VAE objective ``recon + beta * KL`` (or the IWAE's ``-L_k``) with the noise ``eps`` held fixed, on a
    6-5-(2+2) / 2-5-6 VAE.

    Tanh hidden layers keep kinks out of the finite differences; every parameter is checked.
    """

    def problem(rng, dtype):
        model = mlp_vae(input_dim=6, hidden=(5,), latent_dim=2, activation="tanh", seed=int(rng.integers(2**31)),
                        **options).astype(dtype)
        return model, rng.random((4, 6)).astype(dtype), rng.standard_normal(model.noise_shape(4)).astype(dtype)

    def finite_differences(dtype, rng):
        model, x, eps = problem(rng, dtype)

        def value_and_grads():
            model.zero_grads()
            loss = model.forward_backward(x, eps)["loss"]
            return loss, dict(model.named_gradients())

        tensors = dict(model.named_parameters())
        return check_function(value_and_grads, tensors, h=FD_STEP[dtype])

    def oracle(compare):
        return lambda rng: compare(*problem(rng, np.float64))

    return Case(label, "VAE", finite_differences, oracle(torch_bridge.compare_vae_with_torch),
                oracle(jax_bridge.compare_vae_with_jax))


def vae_cases():
    """The VAE loss with ``eps`` fixed: Bernoulli, and Gaussian with a learned per-pixel variance, beta 0.5 and
    free bits; the IWAE loss (k = 3 draws per image): Bernoulli, and Gaussian with a learned scalar variance and
    beta 0.5 (the warm-up's tempered weights)."""
    return [
        _vae_case("VAE loss (Bernoulli)"),
        _vae_case("VAE loss (Gaussian, pixel variance, free bits)",
                  likelihood="gaussian", variance="pixel", beta=0.5, free_bits=0.01),
        _vae_case("IWAE loss (k = 3, Bernoulli)", objective="iwae", k=3),
        _vae_case("IWAE loss (k = 3, Gaussian, scalar variance, beta 0.5)",
                  objective="iwae", k=3, likelihood="gaussian", variance="scalar", beta=0.5),
    ]


def components():
    """``{class name: class}`` of every layer, activation, loss and penalty a model can be built from: the
    classes of the registry (``npae.core.registry``), found at call time, so a new one cannot go unchecked."""
    return {
        name: cls for name, cls in registered().items()
        if issubclass(cls, (Layer, Loss, penalties.Penalty)) and cls.__module__.startswith("npae.")
    }


def _builds_with_defaults(cls, *args):
    """Whether ``cls(*args)`` needs no other argument (so an automatic case can build it)."""
    required = [p for p in inspect.signature(cls).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return len(required) <= len(args)


def cases():
    """Every case, for the components present now (discovered at call time)."""
    out = []
    for name, cls in sorted(components().items()):
        if issubclass(cls, Activation) and _builds_with_defaults(cls):
            out.append(layer_case(f"{name}()", name, lambda rng, cls=cls: cls(), (3, 4)))
        elif issubclass(cls, Loss) and _builds_with_defaults(cls, "mean"):
            out.extend(loss_case(cls(reduction)) for reduction in REDUCTIONS)
        for args, kwargs, shape in LAYER_CASES.get(name, ()):
            make = _constructor(cls, args, kwargs)
            out.append(layer_case(_label(name, args, kwargs), name, make, shape, corruption=hasattr(cls, "corrupt"),
                                  twin=name not in NO_AUTOGRAD_TWIN))
    return out + [_sequential_case()] + penalty_cases() + vae_cases()


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------


def _rows(component, errors, tol):
    return [Row(component, tensor, float(err), bool(err < tol)) for tensor, err in errors.items()]


def _uncovered_rows(all_cases, names):
    covered = {case.covers for case in all_cases}
    return [Row(name, "(no gradient case registered)", math.nan, False) for name in sorted(set(names) - covered)]


def _selected(all_cases, only):
    """The component names to check: all of them, or ``only`` (checked against the known names)."""
    known = set(components()) | {case.covers for case in all_cases}
    if only is None:
        return known
    if isinstance(only, str) or not all(isinstance(name, str) for name in only):
        raise TypeError(f"only: expected a list of component names, got {only!r}")
    unknown = sorted(set(only) - known)
    if unknown:
        raise ValueError(f"only: unknown components {unknown}; known ones are {sorted(known)}")
    return set(only)


def oracles(against):
    """The autograd frameworks ``against`` names, as a tuple: None, ``"torch"``, ``"jax"``, ``"torch,jax"`` or a
    list of those names."""
    if against is None:
        return ()
    names = against.split(",") if isinstance(against, str) else against
    expected = f"None, or one or more of {sorted(ORACLES)} (a list, or a string such as 'torch,jax')"
    if isinstance(names, (list, tuple)) and all(isinstance(name, str) for name in names):
        names = tuple(name.strip() for name in names)
        if names and set(names) <= set(ORACLES) and len(set(names)) == len(names):
            return names
    raise ValueError(f"against: expected {expected}, got {against!r}")


def _require(frameworks):
    """Import each framework (``"torch"``, ``"jax"``), or raise one ImportError naming every one that is missing
    and how to install it (a user asking for ``torch,jax`` learns of both at once)."""
    missing = []
    for oracle in frameworks:
        name, install = ORACLES[oracle]
        try:
            importlib.import_module(oracle)
        except ImportError:
            missing.append(f"against={oracle!r} needs {name}, which is not installed ({install})")
    if missing:
        raise ImportError("; ".join(missing))


@contextlib.contextmanager
def one_numba_thread():
    """Run Numba's parallel kernels on one thread inside the block, then restore the previous count.

    The problems here are tiny and evaluated thousands of times: waking a thread pool for each costs more CPU
    time than the whole check, and buys nothing. (Numba is only imported if the fast backend is in use.)
    """
    if "numba" not in sys.modules:
        yield
        return
    numba = sys.modules["numba"]
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def run(against=None, dtype="float64", seed=0, only=None, backend=None, progress=None):
    """Check every component; returns a list of ``Row(component, tensor, max_rel_error, passed)``.

    ``against="torch"``, ``"jax"`` or ``"torch,jax"`` adds the comparison with those autograd frameworks (in
    float64, tolerance 1e-8) after each component's finite-difference rows. ``seed`` fixes every draw (weights,
    inputs, upstream gradients). ``only``: a list of class names (``["Conv2D", "MaxPool2D"]``) to check just
    those; None checks everything. ``backend``: ``"reference"`` or ``"fast"`` (None: the one in use). Numba
    kernels run on one thread meanwhile. ``progress(done, total, component)`` is called after each component
    is checked.
    """
    frameworks = oracles(against)
    dtype = check_float_dtype(dtype)
    _require(frameworks)
    all_cases = cases()
    names = _selected(all_cases, only)
    rows = []
    chosen = [case for case in all_cases if case.covers in names]
    with backends.backend(backend or backends.get_backend()), one_numba_thread():
        for done, case in enumerate(chosen, start=1):
            rows += _rows(case.component, case.finite_differences(dtype, as_generator(seed)), FD_TOL[dtype])
            for oracle in frameworks:
                if getattr(case, oracle) is not None:
                    rows += _oracle_rows(case, oracle, seed)
            if progress is not None:
                progress(done, len(chosen), case.component)
    return rows + _uncovered_rows(all_cases, names)


def _oracle_rows(case, oracle, seed):
    """The rows of a case against ``oracle``, or one failing row when its bridge has no reference for it."""
    component = f"{case.component} vs {oracle}"
    try:
        return _rows(component, getattr(case, oracle)(as_generator(seed)), ORACLE_TOL)
    except NO_EQUIVALENT:
        name = ORACLES[oracle][0]
        return [Row(component, f"(no {name} reference in npae.gradcheck.{oracle}_bridge)", math.nan, False)]


def format_table(rows):
    """The rows as an aligned text table with a closing count of failures."""
    header = ("component", "tensor", "max rel error", "")
    lines = [(r.component, r.tensor, f"{r.max_rel_error:.2e}", "ok" if r.passed else "FAIL") for r in rows]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(4)]

    def render(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    failed = sum(not r.passed for r in rows)
    body = [render(header), render(["-" * w for w in widths]), *map(render, lines)]
    return "\n".join(body + [f"{len(rows)} gradients checked, {failed} failed"])


def main(argv=None):
    """``npae gradcheck [--against torch|jax|torch,jax] [--dtype float64] [--seed 0] [--only NAME ...]``.

    Prints the table; the exit code is 0 when every check passes, 1 when one fails, 2 when a framework is
    requested but not installed.
    """
    parser = argparse.ArgumentParser(
        prog="npae gradcheck",
        description="Check every gradient of npae by central finite differences, and optionally against PyTorch "
                    "and JAX autograd.",
    )
    parser.add_argument("--against", default=None, metavar="torch|jax|torch,jax",
                        help="also compare outputs and gradients with PyTorch, JAX or both (float64, tolerance "
                             "1e-8) (default: finite differences only)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="dtype of the finite-difference checks (tolerance 1e-6 in float64, 1e-2 in float32) "
                             "(default: float64)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of every draw (weights, inputs, gradients) (default: 0)")
    parser.add_argument("--only", nargs="+", metavar="NAME", default=None,
                        help="check only these components (class names, e.g. Conv2D MaxPool2D) (default: all)")
    parser.add_argument("--backend", choices=backends.BACKENDS, default=None,
                        help="the implementation of the heavy operations to check (default: the one in use, "
                             "fast unless NPAE_BACKEND says otherwise)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        positive_int(args.seed, "seed", minimum=0)
    except ValueError as exc:  # "seed: expected an int >= 0, got -1", as the npae command's other options say
        parser.error(f"argument --{exc}")
    bar = None

    def progress(done, total, component):
        nonlocal bar
        bar = bar or ProgressBar(total, "npae gradcheck", log_every=5.0)
        bar.update(done, f"components checked (last: {component[:40]})")

    try:
        rows = run(against=args.against, dtype=args.dtype, seed=args.seed, only=args.only, backend=args.backend,
                   progress=progress)
    except ImportError as exc:
        print(f"npae gradcheck: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # run's message names its argument: name the option instead
        name, _, reason = str(exc).partition(": ")
        parser.error(f"argument --{name}: {reason}" if name in ("against", "only") else str(exc))
    if bar is not None:
        bar.close("components checked")
    print(format_table(rows))
    return 0 if all(r.passed for r in rows) else 1
