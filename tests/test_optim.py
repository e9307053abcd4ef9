"""Optimizers: the update rules written in their docstrings, schedules, and state save/restore."""

import numpy as np
import pytest

from npae import SGD, Adam, CosineDecay, ExponentialDecay, StagedDecay, StepDecay


def quadratic_grad(p):
    """Gradient of 0.5 * p^T A p with a fixed SPD A: gradients change every step."""
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    return A @ p


def run(opt, steps=20):
    p = np.array([1.0, -2.0])
    for _ in range(steps):
        opt.step([("p", p, quadratic_grad(p))])
    return p


def test_sgd_plain_and_momentum_by_hand():
    p = run(SGD(lr=0.1), steps=1)
    np.testing.assert_allclose(p, np.array([1.0, -2.0]) - 0.1 * quadratic_grad(np.array([1.0, -2.0])))
    # momentum: v1 = g1, v2 = mu v1 + g2
    p0 = np.array([1.0, -2.0])
    g1 = quadratic_grad(p0)
    p1 = p0 - 0.1 * g1
    g2 = quadratic_grad(p1)
    p2 = p1 - 0.1 * (0.9 * g1 + g2)
    np.testing.assert_allclose(run(SGD(lr=0.1, momentum=0.9), steps=2), p2)


def test_nesterov_by_hand():
    p0 = np.array([1.0, -2.0])
    g1 = quadratic_grad(p0)
    p1 = p0 - 0.1 * (g1 + 0.9 * g1)
    np.testing.assert_allclose(run(SGD(lr=0.1, momentum=0.9, nesterov=True), steps=1), p1)


def test_adam_first_step_is_lr_times_sign():
    # with bias correction, the first Adam step is lr * g / (|g| + eps)
    p = run(Adam(lr=0.01), steps=1)
    g = quadratic_grad(np.array([1.0, -2.0]))
    np.testing.assert_allclose(p, np.array([1.0, -2.0]) - 0.01 * g / (np.abs(g) + 1e-8))


@pytest.mark.parametrize("opt", [SGD(lr=0.05, momentum=0.9), Adam(lr=0.05)])
def test_converges_on_quadratic(opt):
    assert np.linalg.norm(run(opt, steps=400)) < 1e-2


def test_state_dict_round_trip_continues_identically():
    a = Adam(lr=0.01)
    p = np.array([1.0, -2.0])
    for _ in range(5):
        a.step([("p", p, quadratic_grad(p))])
    b = Adam(lr=0.01)
    b.load_state_dict(a.state_dict())
    q = p.copy()
    for _ in range(5):
        a.step([("p", p, quadratic_grad(p))])
        b.step([("p", q, quadratic_grad(q))])
    np.testing.assert_array_equal(p, q)


def test_float32_parameters_stay_float32():
    p = np.ones(3, np.float32)
    Adam().step([("p", p, np.ones(3, np.float32))])
    SGD(momentum=0.5).step([("q", p, np.ones(3, np.float32))])
    assert p.dtype == np.float32


def test_schedules():
    assert StepDecay(2, 0.5)(3) == 0.5
    assert ExponentialDecay(0.9)(2) == pytest.approx(0.81)
    assert CosineDecay(10)(0) == 1 and CosineDecay(10)(10) == pytest.approx(0)
    opt = SGD(lr=1.0, schedule=StepDecay(1, 0.1))
    opt.start_epoch(2)
    assert opt.lr == pytest.approx(0.01)


def test_staged_decay_is_the_iwae_papers_schedule_and_compresses():
    """Stage i of the paper: 3^i epochs at 10^{-i/7} (ends 1, 4, 13, ..., 3280); compressed, the same shape."""
    paper = StagedDecay(3280)
    assert paper.stage_ends() == [1, 4, 13, 40, 121, 364, 1093, 3280]
    for i, (start, end) in enumerate(zip([0] + paper.stage_ends()[:-1], paper.stage_ends())):
        assert end - start == 3**i
        assert paper(start) == paper(end - 1) == pytest.approx(10 ** (-i / 7))
    assert paper(5000) == pytest.approx(0.1)  # past the end: the last rate
    short = StagedDecay(600)
    assert short.stage_ends() == [1, 2, 3, 7, 22, 67, 200, 600]  # every stage at least one epoch
    factors = [short(e) for e in range(600)]
    assert factors[0] == 1 and factors[-1] == pytest.approx(0.1) and factors == sorted(factors, reverse=True)
    with pytest.raises(ValueError, match="stages: at most one stage per epoch"):
        StagedDecay(5, stages=8)


def test_config_names_the_schedule_so_a_checkpoint_cannot_resume_under_another():
    assert "schedule" not in Adam().config()
    assert Adam(schedule=StagedDecay(600)).config()["schedule"] == (
        "StagedDecay(epochs=600, stages=8, growth=3.0, decay=0.719685673001152)")
    assert Adam(schedule=CosineDecay(10)).config() != Adam(schedule=CosineDecay(20)).config()

    def halve(epoch):
        return 0.5
    assert SGD(schedule=halve).config()["schedule"].endswith("halve")


def test_optimizer_errors():
    with pytest.raises(ValueError, match="lr: expected a finite number > 0"):
        Adam(lr=-1)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(nesterov=True)


@pytest.mark.parametrize("backend", ["reference", "fast"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_adam_step_follows_its_formula_over_several_steps(backend, dtype, rtol):
    """``Adam.step`` against Kingma & Ba's update written out, for 8 steps with gradients of changing scale.

    The bias corrections use the step count t (``1 - b1^t``, ``1 - b2^t``); a correction computed with t = 1
    at every step (``1 - b2``) gives the right first step and a wrong second one, so only several steps catch it.
    """
    import npae

    rng = np.random.default_rng(0)
    lr, b1, b2, eps = 0.01, 0.8, 0.9, 1e-8
    opt = Adam(lr=lr, beta1=b1, beta2=b2, eps=eps)
    p = rng.standard_normal((3, 4)).astype(dtype)
    expected, m, v = p.astype(np.float64), np.zeros((3, 4)), np.zeros((3, 4))
    with npae.backend(backend):
        for t in range(1, 9):
            g = (rng.standard_normal((3, 4)) * 10.0 ** rng.integers(-2, 3)).astype(dtype)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g.astype(np.float64) ** 2
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            expected -= lr * m_hat / (np.sqrt(v_hat) + eps)
            opt.step([("p", p, g)])
            assert p.dtype == dtype
            np.testing.assert_allclose(p, expected, rtol=rtol, atol=0, err_msg=f"step {t}")
