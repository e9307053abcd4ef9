"""Exercises on the regularisers of the autoencoder family: the KL-sparsity and contractive penalties."""

from __future__ import annotations

import numpy as np

from ..core.layers import Dense, Sequential, Sigmoid, Softplus, Tanh
from ..core.penalties import Contractive, KLSparsity
from .exercise import Clue, Exercise, Problem, attempt, central_differences, part
from .template import Derive, Keep, Subclass, Template

IMPORTS = ("import numpy as np", "", "import npae")


# ----------------------------------------------------------------------------------------------
# KL sparsity
# ----------------------------------------------------------------------------------------------

KL = Template(
    doc='''
    KL sparsity: derive the gradient of the sparse autoencoder's penalty.

    The class below is npae's KLSparsity (npae/core/penalties.py) with the penalty as npae computes it and its
    derivatives removed. For the sigmoid activations h (N, units) of a batch, rho_hat_j = 1/N sum_n h_nj is unit
    j's mean activation, rho the target (such as 0.1), and

        P = beta sum_j KL(rho || rho_hat_j),   KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))

    Derive the two expressions marked derive(...):

        in divergence:     slope = dKL/dq at q = rho_hat   (units,)
        in value_and_grad: dP/dh                            (N, units), or one row (units,) that every sample shares

    (outside [eps, 1 - eps] npae continues KL along its tangent, so that a dead or saturated unit gives finite
    numbers; the problems here stay inside.)
    ''',
    imports=IMPORTS,
    pieces=(Subclass("KLSparsity", "npae.KLSparsity", "npae's KL-sparsity penalty with its derivatives to derive.", (
        Derive(KLSparsity.divergence, '''
            ``(KL(rho || rho_hat), dKL/drho_hat)`` per unit, each of shape (units,), for the mean activations
            ``rho_hat`` (units,).
            ''', blanks={"slope = -rho / q + (1 - rho) / (1 - q)":
                         'slope = derive("dKL/dq at q, shape (units,)")'}),
        Derive(KLSparsity.value_and_grad, '''
            ``(P, dP/dh)`` for the sigmoid outputs ``h`` (N, units).
            ''', blanks={"n = h.shape[0]": "",
                         "return self.beta * float(kl.sum()), (self.beta * slope / n).astype(h.dtype)":
                         'return self.beta * float(kl.sum()), derive("dP/dh, shape (N, units) or (units,)")'}),
    )),),
    demo='''
    h = np.random.default_rng(0).uniform(0.05, 0.95, (5, 4))
    penalty = KLSparsity(rho=0.1, beta=3.0)
    value, grad = penalty.value_and_grad(h)
    print("P", value)
    print("dP/dh", grad)
    ''',
)


def _kl_problems(rng):
    return [Problem(f"h {shape} in (0.05, 0.95), rho {rho}, beta {beta}", batch=shape[0],
                    h=rng.uniform(0.05, 0.95, shape), rho=rho, beta=beta)
            for shape, rho, beta in (((5, 4), 0.1, 3.0), ((4, 3), 0.3, 1.5))]


def _kl_answers(module, p, path):
    penalty = module.KLSparsity(p.rho, p.beta)
    return {"dKL/drho_hat": part(attempt(penalty.divergence, p.h.mean(axis=0), path=path), 1, path),
            "dP/dh": part(attempt(penalty.value_and_grad, p.h.copy(), path=path), 1, path)}


def _kl_truth(module, p):
    penalty = module.KLSparsity(p.rho, p.beta)
    rho_hat, h = p.h.mean(axis=0), p.h.copy()
    return {**central_differences(lambda: float(penalty.divergence(rho_hat)[0].sum()), {"dKL/drho_hat": rho_hat}),
            **central_differences(lambda: penalty.value_and_grad(h)[0], {"dP/dh": h})}


def _kl_oracle(bridge, p):
    rho_hat = p.h.mean(axis=0)
    slope = bridge.activity_penalty_gradient(KLSparsity(p.rho, 1.0), rho_hat[None])[1][0]  # one sample: dKL/dq
    return {"dKL/drho_hat": slope, "dP/dh": bridge.activity_penalty_gradient(KLSparsity(p.rho, p.beta), p.h)[1]}


def _kl_clues(module, p):
    q = p.h.mean(axis=0)
    beta = {p.beta: "beta applied twice (it multiplies the sum of the KLs once)",
            1 / p.beta: "beta is missing: P = beta sum_j KL, so beta multiplies its gradient too"}
    terms = {"rho / rho_hat": p.rho / q, "(1 - rho) / (1 - rho_hat)": (1 - p.rho) / (1 - q)}
    per_sample = {f"beta / N {name}": np.broadcast_to(p.beta / p.batch * term, p.h.shape)
                  for name, term in terms.items()}
    return {"dKL/drho_hat": Clue(terms=terms), "dP/dh": Clue(factors=beta, terms=per_sample, broadcast_rows=True)}


KL_SPARSITY_GRADIENT = Exercise(
    name="kl-sparsity-gradient",
    title="KL-sparsity gradient",
    teaches="the gradient of a function of batch means: every sample gets 1/N of it",
    template=KL,
    problems=_kl_problems,
    answers=_kl_answers,
    truth=_kl_truth,
    forward=lambda module, p: module.KLSparsity(p.rho, p.beta).value_and_grad(p.h)[0],
    oracle=_kl_oracle,
    clues=_kl_clues,
)

# ----------------------------------------------------------------------------------------------
# Contractive
# ----------------------------------------------------------------------------------------------

CONTRACTIVE = Template(
    doc='''
    Contractive penalty: derive both paths of the gradient of the contractive autoencoder's penalty.

    The class below is npae's Contractive (npae/core/penalties.py) with the penalty as npae computes it and its
    gradient removed. For a Dense layer a = x W + b followed by an activation h = s(a), x (N, D), W (D, H),
    a and h (N, H), the penalty is the squared Frobenius norm of the Jacobian J_n = dh_n/dx_n, averaged over the
    batch. Since J_n[j, i] = s'(a_nj) W_ij,

        P(a, W) = lam / N sum_n sum_j s'(a_nj)^2 w_j,     w_j = sum_i W_ij^2

    P depends on W twice: through a (the Dense's own backward carries dP/da on to W, b and x) and directly,
    through w. Derive, in gradients(a, dense), both paths:

        dP/da            (N, H)   with W held fixed
        dP/dW (direct)   (D, H)   with a held fixed

    self._activation is s: self._activation.df(a) is s'(a), self._activation.d2f(a) is s''(a).
    ''',
    imports=IMPORTS,
    pieces=(Subclass("Contractive", "npae.Contractive", "npae's contractive penalty with its gradient to derive.", (
        Keep(Contractive.value),
        Derive(Contractive.gradients, '''
            ``(dP/da, {"W": dP/dW})`` for the pre-activation ``a`` (N, H) of the Dense layer ``dense`` (weights
            ``dense.params["W"]``, (D, H)): ``dP/da`` with W held fixed, (N, H), and the direct ``dP/dW`` with
            ``a`` held fixed, (D, H).
            '''),
    )),),
    demo='''
    rng = np.random.default_rng(0)
    encoder = npae.Sequential([npae.Dense(5, 3, rng=0, dtype=np.float64), npae.Sigmoid()])
    penalty = Contractive(0.7, layer=1)
    encoder.add_penalty(penalty, 1)
    a = encoder[0].forward(rng.standard_normal((4, 5)))
    grad_a, direct = penalty.gradients(a, encoder[0])
    print("P", penalty.value(a, encoder[0]), "dP/da", grad_a.shape, "dP/dW", direct["W"].shape)
    ''',
)

_ACTIVATIONS = {"Sigmoid": Sigmoid, "Tanh": Tanh, "Softplus": Softplus}


def _contractive_problems(rng):
    problems = []
    for activation, (n, d, h), lam in (("Sigmoid", (4, 5, 3), 0.7), ("Tanh", (3, 3, 3), 1.3),
                                       ("Softplus", (5, 4, 2), 0.4)):
        W = rng.standard_normal((d, h))
        a = rng.standard_normal((n, d)) @ W + rng.standard_normal(h)
        problems.append(Problem(f"{activation}, a ({n}, {h}), W ({d}, {h}), lam {lam}", batch=n, a=a, W=W,
                                activation=activation, lam=lam))
    return problems


def _contractive(cls, p):
    """``(penalty, dense)``: a ``cls`` penalty attached to a Dense holding ``W``, followed by the activation."""
    dense = Dense(*p.W.shape, dtype=np.float64)
    dense.params["W"] = p.W.copy()
    penalty = cls(p.lam, layer=1)
    Sequential([dense, _ACTIVATIONS[p.activation]()]).add_penalty(penalty, 1)
    return penalty, dense


def _contractive_forward(module, p):
    penalty, dense = _contractive(module.Contractive, p)
    return penalty.value(p.a, dense)


def _contractive_answers(module, p, path):
    penalty, dense = _contractive(module.Contractive, p)
    outcome = attempt(penalty.gradients, p.a.copy(), dense, path=path)
    return {"dP/da": part(outcome, 0, path), "dP/dW (direct)": part(part(outcome, 1, path), "W", path)}


def _contractive_truth(module, p):
    penalty, dense = _contractive(module.Contractive, p)
    a = p.a.copy()
    return central_differences(lambda: penalty.value(a, dense), {"dP/da": a, "dP/dW (direct)": dense.params["W"]})


def _contractive_oracle(bridge, p):
    _, grad_a, grad_W = bridge.contractive_gradients(Contractive(p.lam), _ACTIVATIONS[p.activation](), p.a, p.W)
    return {"dP/da": grad_a, "dP/dW (direct)": grad_W}


def _contractive_clues(module, p):
    activation = _ACTIVATIONS[p.activation]()
    s1, w = activation.df(p.a), (p.W * p.W).sum(axis=0)
    factor_2 = ("the factor 2 from differentiating the squares s'(a)^2 and W^2 is missing (a published derivation "
                "of the contractive autoencoder's gradient misses it too)")
    no_chain = ("the factor s''(a) is missing: s'(a_nj)^2 depends on a_nj through s', and d/da s'(a)^2 = 2 s'(a) "
                "s''(a)")
    lam = {p.lam: "lam applied twice", 1 / p.lam: "lam is missing: P = lam / N ..., so lam multiplies both paths"}
    return {"dP/da": Clue(factors={0.5: factor_2, **lam}, mistakes=((no_chain, 2 * p.lam / p.batch * s1 * w),)),
            "dP/dW (direct)": Clue(factors={0.5: factor_2, **lam})}


CONTRACTIVE_GRADIENT = Exercise(
    name="contractive-gradient",
    title="Contractive penalty gradient (through a and direct on W)",
    teaches="a penalty on a Jacobian depends on the weights twice: through the pre-activation and directly",
    template=CONTRACTIVE,
    problems=_contractive_problems,
    answers=_contractive_answers,
    truth=_contractive_truth,
    forward=_contractive_forward,
    oracle=_contractive_oracle,
    clues=_contractive_clues,
)
