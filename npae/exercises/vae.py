"""The exercise on the VAE: the reparameterized gradient and the gradient of the analytic KL term."""

from __future__ import annotations

import numpy as np

from ..models import vae
from .exercise import Clue, Exercise, Problem, attempt, central_differences, part
from .template import Derive, Keep, Template

VAE = Template(
    doc='''
    VAE gradient: derive the reparameterized gradient and the gradient of the analytic KL term.

    Below are npae's VAE functions (npae/models/vae.py) with the forward computations as npae runs them and the
    gradients removed. For a batch of N images the encoder gives mu and logvar (N, K), and the loss is

        L = 1/N sum_n NLL(x_n | decoder(z_n)) + beta KL,     z = mu + e^{logvar / 2} eps,  eps ~ N(0, I)

    with eps drawn once per step and then held fixed. Backpropagation brings dz = dL/dz (N, K) out of the
    decoder; derive how it reaches mu and logvar through z, and the gradient of the KL term (VAE.posterior_loss
    adds the two, the second times beta):

        reparameterize_backward(dz, logvar, eps) -> (dL/dmu, dL/dlogvar) through z      each (N, K)
        kl_term(mu, logvar, free_bits)           -> (KL, dKL/dmu, dKL/dlogvar)          each gradient (N, K)

    In kl_term, derive the two expressions marked derive(...); the value above them is npae's.
    ''',
    imports=("import numpy as np", "", "import npae"),
    pieces=(
        Keep(vae.kl_divergence, doc='''
            ``KL(N(mu, e^{logvar}) || N(0, 1))`` per image and latent dimension, shape (N, K).

            ``kl = -1/2 (1 + logvar - mu^2 - e^{logvar})``.
            '''),
        Derive(vae.kl_term, '''
            The KL term of the loss, batch-averaged, with its gradients: ``(KL, dKL/dmu, dKL/dlogvar)``.

            ``kbar_j = 1/N sum_n kl_nj`` is latent dimension j's batch-mean KL and ``KL = sum_j max(free_bits,
            kbar_j)``: with free bits (Kingma et al. 2016) a dimension below the floor adds the constant
            ``free_bits``; without (``free_bits = 0``), ``KL = 1/N sum_n sum_j kl_nj``.
            ''', blanks={
                "above_floor = per_dim > free_bits if free_bits > 0 else np.ones(per_dim.shape, dtype=bool)": "",
                "scale = above_floor.astype(mu.dtype) / mu.shape[0]": "",
                "return value, mu * scale, 0.5 * np.expm1(logvar) * scale":
                    'return value, derive("dKL/dmu (N, K)"), derive("dKL/dlogvar (N, K)")',
            }),
        Keep(vae.reparameterize),
        Derive(vae.reparameterize_backward, '''
            ``(dL/dmu, dL/dlogvar)``, each (N, K), from ``dz = dL/dz`` (N, K), for
            ``z = reparameterize(mu, logvar, eps)`` with the noise ``eps`` held fixed.
            '''),
    ),
    demo='''
    rng = np.random.default_rng(0)
    mu, logvar, eps, dz = (rng.standard_normal((4, 2)) for _ in range(4))
    print("through z:", reparameterize_backward(dz, logvar, eps))
    print("KL term:  ", kl_term(mu, logvar))
    ''',
)

TENSORS = ("dL/dmu (through z)", "dL/dlogvar (through z)", "dKL/dmu", "dKL/dlogvar")


def _vae_problems(rng):
    n, k = 4, 3
    plain = Problem(f"mu, logvar, eps, dz ({n}, {k}), no free bits", batch=n, mu=rng.standard_normal((n, k)),
                    logvar=rng.uniform(-1, 1, (n, k)), eps=rng.standard_normal((n, k)),
                    dz=rng.standard_normal((n, k)), free_bits=0.0)
    n, k = 5, 4
    # two dimensions near the prior (their mean KL below the floor: no gradient) and two far from it
    near = np.array([0.1, 0.1, 1.0, 1.0])
    floored = Problem(f"mu, logvar, eps, dz ({n}, {k}), free bits 0.3 (2 dimensions below the floor)", batch=n,
                      mu=near * rng.standard_normal((n, k)) + np.array([0, 0, 1.2, -1.2]),
                      logvar=near * rng.uniform(-1, 1, (n, k)), eps=rng.standard_normal((n, k)),
                      dz=rng.standard_normal((n, k)), free_bits=0.3)
    return [plain, floored]


def _vae_answers(module, p, path):
    through_z = attempt(module.reparameterize_backward, p.dz, p.logvar, p.eps, path=path)
    kl = attempt(module.kl_term, p.mu, p.logvar, p.free_bits, path=path)
    return dict(zip(TENSORS, (part(through_z, 0, path), part(through_z, 1, path), part(kl, 1, path),
                              part(kl, 2, path))))


def _vae_truth(module, p):
    mu, logvar = p.mu.copy(), p.logvar.copy()
    through_z = central_differences(lambda: float(np.sum(p.dz * module.reparameterize(mu, logvar, p.eps))),
                                    {TENSORS[0]: mu, TENSORS[1]: logvar})
    kl = central_differences(lambda: module.kl_term(mu, logvar, p.free_bits)[0], {TENSORS[2]: mu, TENSORS[3]: logvar})
    return {**through_z, **kl}


def _vae_oracle(bridge, p):
    through_z = bridge.reparameterize_gradients(p.mu, p.logvar, p.eps, p.dz)
    return dict(zip(TENSORS, through_z + bridge.kl_gradients(p.mu, p.logvar, p.free_bits)[1:]))


def _vae_clues(module, p):
    per_dim = vae.kl_divergence(p.mu, p.logvar).mean(axis=0)
    below = np.broadcast_to(per_dim <= p.free_bits, p.mu.shape)
    floor = (("the latent dimensions below the free-bits floor", below,
              "A dimension whose batch-mean KL is below free_bits adds the constant free_bits to the loss, "
              "whatever mu and logvar are: it gets no gradient"),) if p.free_bits > 0 else ()
    full_variance = ("the derivative of e^{logvar / 2} is e^{logvar / 2} / 2: this used e^{logvar} (the "
                     "variance) where z holds e^{logvar / 2} (the standard deviation)")
    return {TENSORS[1]: Clue(mistakes=((full_variance, p.dz * p.eps * 0.5 * np.exp(p.logvar)),)),
            TENSORS[2]: Clue(masks=floor), TENSORS[3]: Clue(masks=floor)}


VAE_GRADIENT = Exercise(
    name="vae-gradient",
    title="VAE: the reparameterized gradient and the analytic KL",
    teaches="how a sample becomes differentiable (z = mu + sigma eps), and the KL term's gradient, with free bits",
    template=VAE,
    problems=_vae_problems,
    answers=_vae_answers,
    truth=_vae_truth,
    forward=lambda module, p: (module.reparameterize(p.mu, p.logvar, p.eps), module.kl_divergence(p.mu, p.logvar)),
    oracle=_vae_oracle,
    clues=_vae_clues,
)
