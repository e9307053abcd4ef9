"""Exercises on the first files of the reading guide: Dense, the sigmoid and tanh activations, the Bernoulli loss."""

from __future__ import annotations

import numpy as np

from ..core.layers import Dense, Sigmoid, Tanh
from ..core.losses import BinaryCrossEntropy
from ..gradcheck.suite import spread
from .exercise import (
    Clue, Exercise, Failure, Problem, attempt, central_differences, elementwise_derivatives, unless_failed,
)
from .template import Derive, Keep, Subclass, Template

IMPORTS = ("import numpy as np", "", "import npae", "from npae.backends import ops")

# ----------------------------------------------------------------------------------------------
# Dense
# ----------------------------------------------------------------------------------------------

DENSE = Template(
    doc='''
    Dense backward: derive the gradients of the fully connected layer y = x W + b.

    The class below is npae's Dense (npae/core/layers/dense.py) with the forward pass npae runs and the backward
    pass removed. x is a batch of N samples (N, in), W is (in, out), b (out,) and y (N, out). Given the upstream
    gradient dy = dL/dy (N, out) of any scalar L computed from y, derive

        dx = dL/dx   (N, in)     returned by backward
        dW = dL/dW   (in, out)   stored in self.grads["W"] by backward_params
        db = dL/db   (out,)      stored in self.grads["b"] by backward_params

    Write one entry y_nj as a sum over i, then ask which entries of y each x_ni, W_ij and b_j reaches.
    ''',
    imports=IMPORTS,
    pieces=(Subclass("Dense", "npae.Dense", "npae's Dense, ``y = x W + b``, with its backward pass to derive.", (
        Keep(Dense.forward),
        Derive(Dense.backward, '''
            Given ``dy = dL/dy`` (N, out), return ``dx = dL/dx`` (N, in).

            Also leave the parameter gradients in ``self.grads`` (``backward_params`` computes them), as every
            npae layer's backward does.
            '''),
        Derive(Dense.backward_params, '''
            Given ``dy = dL/dy`` (N, out), store ``dL/dW`` (in, out) in ``self.grads["W"]`` and ``dL/db`` (out,)
            in ``self.grads["b"]``. The forward pass saved its input in ``self._x`` (N, in).
            '''),
    )),),
    demo='''
    rng = np.random.default_rng(0)
    layer = Dense(5, 4, rng=0, dtype=np.float64)
    x = rng.standard_normal((3, 5))
    y = layer.forward(x)
    dx = layer.backward(rng.standard_normal(y.shape))
    print("dx", dx.shape, "dW", layer.grads["W"].shape, "db", layer.grads["b"].shape)
    ''',
)


def _dense_problems(rng):
    problems = []
    for n, n_in, n_out in ((3, 5, 4), (5, 4, 4)):
        problems.append(Problem(f"x ({n}, {n_in}), W ({n_in}, {n_out}), b ({n_out},), dy ({n}, {n_out})", batch=n,
                                x=spread(rng, (n, n_in)), W=rng.standard_normal((n_in, n_out)),
                                b=rng.standard_normal(n_out), dy=rng.standard_normal((n, n_out))))
    return problems


def _dense_layer(cls, p):
    """A ``cls`` (the learner's Dense, or npae's) holding the problem's weights."""
    layer = cls(*p.W.shape, dtype=np.float64)
    layer.params["W"], layer.params["b"] = p.W.copy(), p.b.copy()
    return layer


def _dense_answers(module, p, path):
    layer = _dense_layer(module.Dense, p)
    layer.forward(p.x)
    dx = attempt(layer.backward, p.dy.copy(), path=path)
    first = _dense_layer(module.Dense, p)  # a first layer's parameter gradients, without dx
    first.forward(p.x)
    done = attempt(first.backward_params, p.dy.copy(), path=path)
    return {"dx": dx, "dW": unless_failed(dx, layer.grads["W"]), "db": unless_failed(dx, layer.grads["b"]),
            "dW (backward_params)": unless_failed(done, first.grads["W"]),
            "db (backward_params)": unless_failed(done, first.grads["b"])}


def _dense_truth(module, p):
    layer = _dense_layer(module.Dense, p)
    x = p.x.copy()
    grads = central_differences(lambda: float(np.sum(p.dy * layer.forward(x))),
                                {"dx": x, "dW": layer.params["W"], "db": layer.params["b"]})
    return {**grads, "dW (backward_params)": grads["dW"], "db (backward_params)": grads["db"]}


def _dense_oracle(bridge, p):
    theirs = bridge.layer_gradients(_dense_layer(Dense, p), p.x, p.dy)
    return {"dx": theirs["x"], "dW": theirs["W"], "db": theirs["b"],
            "dW (backward_params)": theirs["W"], "db (backward_params)": theirs["b"]}


def _dense_clues(module, p):
    untransposed = ("W is used untransposed: dx_ni sums dy_nj W_ij over the output index j, which pairs each row "
                    "of dy with a row of W")
    if p.W.shape[0] != p.W.shape[1]:
        return {}
    return {"dx": Clue(mistakes=((untransposed, p.dy @ p.W),))}


DENSE_BACKWARD = Exercise(
    name="dense-backward",
    title="Dense backward",
    teaches="the matrix chain rule: dx, dW and db of y = x W + b, and why dW and db sum over the batch",
    template=DENSE,
    problems=_dense_problems,
    answers=_dense_answers,
    truth=_dense_truth,
    forward=lambda module, p: _dense_layer(module.Dense, p).forward(p.x),
    oracle=_dense_oracle,
    clues=_dense_clues,
)

# ----------------------------------------------------------------------------------------------
# Sigmoid and Tanh: f' and f''
# ----------------------------------------------------------------------------------------------

_DERIVATIVES_DOC = '''
    {title}: derive the first and second derivatives of f(x) = {formula}.

    The class below is npae's {cls} (npae/core/layers/activations.py) with f as npae computes it and the two
    derivatives removed. Backpropagation through the activation needs f'(x) (dx = dy * f'(x)); the contractive
    penalty's gradient needs f''(x) too. Derive both as functions of the pre-activation x, elementwise:

        df(x)  = f'(x)    same shape as x
        d2f(x) = f''(x)   same shape as x

    You may write them through f(x) itself: that is cheaper and never overflows.
    '''


def _derivatives_template(cls, title, formula):
    return Template(
        doc=_DERIVATIVES_DOC.format(title=title, formula=formula, cls=cls.__name__),
        imports=IMPORTS,
        pieces=(Subclass(cls.__name__, f"npae.{cls.__name__}", f"npae's {cls.__name__}, ``f(x) = {formula}``, "
                         "with its derivatives to derive.", (
            Keep(cls.f),
            Derive(cls.df, "``f'(x)``, elementwise: an array of the shape of ``x``."),
            Derive(cls.d2f, "``f''(x)``, elementwise: an array of the shape of ``x``."),
        )),),
        demo=f'''
        x = np.linspace(-3, 3, 7)
        print("x  ", x)
        print("f' ", {cls.__name__}.df(x))
        print("f''", {cls.__name__}.d2f(x))
        ''',
    )


def _derivatives_problems(rng):
    return [Problem("x (3, 5) spread over (-4, 4)", x=spread(rng, (3, 5), low=-4.0, high=4.0)),
            Problem("x (2, 4) spread over (-1, 1)", x=spread(rng, (2, 4), low=-1.0, high=1.0))]


def _derivatives_exercise(cls, title, formula, teaches, mistakes):
    name = cls.__name__

    def answers(module, p, path):
        learner = getattr(module, name)
        return {"f'": attempt(learner.df, p.x.copy(), path=path), "f''": attempt(learner.d2f, p.x.copy(), path=path)}

    def truth(module, p):
        first, second = elementwise_derivatives(getattr(module, name).f, p.x)
        return {"f'": first, "f''": second}

    def oracle(bridge, p):
        first, second = bridge.activation_derivatives(cls(), p.x)
        return {"f'": first, "f''": second}

    def clues(module, p):
        return {tensor: Clue(mistakes=tuple((hint, wrong(p.x, cls.f(p.x))) for hint, wrong in found))
                for tensor, found in mistakes.items()}

    return Exercise(
        name=f"{name.lower()}-derivatives", title=f"{name} first and second derivatives", teaches=teaches,
        template=_derivatives_template(cls, title, formula), problems=_derivatives_problems, answers=answers,
        truth=truth, forward=lambda module, p: getattr(module, name).f(p.x), oracle=oracle, clues=clues,
        # f'' by finite differences is a second difference, accurate to about 1e-7 here
        tolerances={"f''": 1e-5},
    )


_X_FOR_F = "written with the input x where the activation f(x) belongs"
_NO_CHAIN = ("the chain rule's factor f'(x) is missing: f'' is the derivative of f'(x) = g(f(x)), which is "
             "g'(f(x)) f'(x)")

SIGMOID_DERIVATIVES = _derivatives_exercise(
    Sigmoid, "Sigmoid derivatives", "1 / (1 + e^-x)",
    "the derivatives of the logistic sigmoid through its own value, and the chain rule inside f''",
    {"f'": ((_X_FOR_F, lambda x, s: x * (1 - x)),),
     "f''": ((_NO_CHAIN, lambda x, s: 1 - 2 * s), (_X_FOR_F, lambda x, s: x * (1 - x) * (1 - 2 * x)))},
)

TANH_DERIVATIVES = _derivatives_exercise(
    Tanh, "Tanh derivatives", "tanh x",
    "the derivatives of tanh through its own value, and the chain rule inside f''",
    {"f'": ((_X_FOR_F, lambda x, t: 1 - x * x),),
     "f''": ((_NO_CHAIN, lambda x, t: -2 * t), (_X_FOR_F, lambda x, t: -2 * x * (1 - x * x)))},
)

# ----------------------------------------------------------------------------------------------
# Binary cross-entropy from logits, in its softplus form
# ----------------------------------------------------------------------------------------------

BCE = Template(
    doc='''
    BCE with logits: derive the gradient of the Bernoulli loss in its softplus form.

    The class below is npae's BinaryCrossEntropy (npae/core/losses.py) with the loss of one value as npae
    computes it and its derivative removed. For a logit z and a target t in [0, 1] the loss of one value is

        l(z, t) = -[t log s(z) + (1 - t) log(1 - s(z))] = softplus(z) - t z,    s(z) = 1 / (1 + e^-z)

    (softplus(z) = log(1 + e^z), in npae/core/functions.py). The loss of a batch z (N, D) is a sum of these
    scaled by 1/(N D) (reduction "mean") or 1/N ("sum"); npae's Loss.value_and_grad multiplies the elementwise
    derivative you write by that same scale. Derive

        _elementwise_grad(z, t) = dl/dz, elementwise   (N, D), the shape of z
    ''',
    imports=IMPORTS + ("from npae.core.functions import softplus",),
    pieces=(Subclass("BinaryCrossEntropy", "npae.BinaryCrossEntropy",
                     "npae's Bernoulli loss from logits, with the derivative of one value's loss to derive.", (
                         Keep(BinaryCrossEntropy._elementwise),
                         Derive(BinaryCrossEntropy._elementwise_grad, '''
                             ``dl/dz`` for ``l = softplus(z) - t z``, elementwise: an array of the shape of
                             ``logits``.
                             '''),
                     )),),
    demo='''
    z = np.linspace(-3, 3, 6).reshape(2, 3)
    t = np.array([[0.0, 0.5, 1.0], [1.0, 0.2, 0.0]])
    value, grad = BinaryCrossEntropy("mean").value_and_grad(z, t)
    print("loss", value)
    print("dL/dz", grad)
    ''',
)


def _bce_problems(rng):
    return [Problem(f"logits z {shape} spread over (-6, 6), targets t in [0, 1], reduction {reduction!r}",
                    batch=shape[0], z=spread(rng, shape, low=-6.0, high=6.0), t=rng.random(shape),
                    reduction=reduction)
            for shape, reduction in (((3, 4), "mean"), ((5, 3), "sum"))]


def _bce_answers(module, p, path):
    loss = module.BinaryCrossEntropy(p.reduction)
    outcome = attempt(loss.value_and_grad, p.z.copy(), p.t, path=path)
    return {"dL/dz": outcome if isinstance(outcome, Failure) else outcome[1]}


def _bce_truth(module, p):
    loss, z = module.BinaryCrossEntropy(p.reduction), p.z.copy()
    return central_differences(lambda: loss.value(z, p.t), {"dL/dz": z})


def _bce_clues(module, p):
    scale = module.BinaryCrossEntropy(p.reduction)._scale(p.z)
    return {"dL/dz": Clue(terms={"the target t (times the loss's 1/N or 1/(N D))": scale * p.t})}


BCE_WITH_LOGITS = Exercise(
    name="bce-with-logits-gradient",
    title="Binary cross-entropy gradient from logits (softplus form)",
    teaches="why the Bernoulli loss of a logit has the gradient it has, and the stable softplus form",
    template=BCE,
    problems=_bce_problems,
    answers=_bce_answers,
    truth=_bce_truth,
    forward=lambda module, p: module.BinaryCrossEntropy(p.reduction)._elementwise(p.z, p.t),
    oracle=lambda bridge, p: {"dL/dz": bridge.loss_gradient(BinaryCrossEntropy(p.reduction), p.z, p.t)[1]},
    clues=_bce_clues,
)
