"""Optimizers against torch.optim: 20 steps from the same start on a quadratic, float64, to 1e-10.

The objective ``f = 1/2 sum_ij (A p)_i p_i - b . p`` (A symmetric positive definite, shared by the entries of
a matrix and a vector parameter) has gradient ``A p - b``, so the gradient changes at every step.
"""

import numpy as np
import pytest

from support import import_framework

torch = import_framework("torch")

from npae import SGD, Adam
from npae.gradcheck import relative_error

STEPS = 20
OPTIM_TOL = 1e-10


def quadratic(rng, size):
    m = rng.standard_normal((size, size))
    return m @ m.T / size + np.eye(size), rng.standard_normal(size)


def quadratic_grads(params, a, b):
    flat = np.concatenate([p.ravel() for p in params])
    grad = a @ flat - b
    return np.split(grad, np.cumsum([p.size for p in params])[:-1])


def run_both(npae_optimizer, make_torch_optimizer, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    a, b = quadratic(rng, sum(p.size for p in params))
    twins = [torch.tensor(p, requires_grad=True) for p in params]
    torch_optimizer = make_torch_optimizer(twins)
    errors = []
    for _ in range(STEPS):
        grads = [g.reshape(p.shape) for g, p in zip(quadratic_grads(params, a, b), params)]
        npae_optimizer.step([(f"p{i}", p, g) for i, (p, g) in enumerate(zip(params, grads))])
        torch_optimizer.zero_grad()
        flat = torch.cat([t.reshape(-1) for t in twins])
        (0.5 * flat @ torch.from_numpy(a) @ flat - torch.from_numpy(b) @ flat).backward()
        torch_optimizer.step()
        errors.append(max(relative_error(p, t.detach().numpy()) for p, t in zip(params, twins)))
    return errors


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.8, True)])
def test_sgd_matches_torch(matches_torch, momentum, nesterov):
    errors = run_both(
        SGD(lr=0.05, momentum=momentum, nesterov=nesterov),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=momentum, nesterov=nesterov),
    )
    assert max(errors) < OPTIM_TOL, errors
    matches_torch({f"step {i + 1}": e for i, e in enumerate(errors)}, f"SGD(momentum={momentum}, nesterov={nesterov})")


def test_adam_matches_torch(matches_torch):
    errors = run_both(
        Adam(lr=0.05, beta1=0.8, beta2=0.99, eps=1e-7),
        lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-7),
    )
    assert max(errors) < OPTIM_TOL, errors
    matches_torch({f"step {i + 1}": e for i, e in enumerate(errors)}, "Adam")
