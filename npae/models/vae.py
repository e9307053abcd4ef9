"""The variational autoencoder (Kingma & Welling 2014), its beta and conditional variants, and its evaluation.

A VAE is a generative model ``p(x, z) = p(x | z) p(z)`` with a standard normal prior ``p(z) = N(0, I)`` over
K latent dimensions and a decoder network giving ``p(x | z)``. The true posterior ``p(z | x)`` is intractable,
so an encoder network gives an approximation ``q(z | x) = N(mu, diag(exp(logvar)))``. Training maximises the
evidence lower bound (ELBO) on ``log p(x)``; we minimise its negative, averaged over a batch of N images:

    L = 1/N sum_n [ NLL_n + beta * KL_n ]
    NLL_n = -log p(x_n | z_n)                      reconstruction, summed over the D pixels
    KL_n  = KL(q(z | x_n) || N(0, I)) = -1/2 sum_j (1 + logvar_nj - mu_nj^2 - exp(logvar_nj))

With ``beta = 1`` this is exactly the negative ELBO. All values are in **nats per image**: summed over pixels
and latent dimensions, averaged over images.

Notation used in every docstring below:

- encoder ``h = f(x)`` with 2K outputs, split as ``mu = h[:, :K]`` and ``logvar = h[:, K:]``;
- reparameterisation ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` drawn from the caller's
  Generator, so that z is a differentiable function of mu and logvar: ``dz/dmu = 1`` and
  ``dz/dlogvar = eps * exp(logvar / 2) / 2``;
- decoder output ``l = g(z)``: logits of a Bernoulli per pixel, or the mean of a Gaussian per pixel whose
  log-variance ``s`` is fixed or learned (one scalar, or one parameter per pixel).

The backward pass of the whole loss, by the chain rule:

    dL/dl       = (1/N) dNLL/dl                         (Bernoulli: sigmoid(l) - x; Gaussian: (l - x) e^{-s})
    dL/dz       = decoder.backward(dL/dl)
    dL/dmu      = dL/dz                + beta * (1/N) mu
    dL/dlogvar  = dL/dz * eps e^{logvar/2} / 2 + beta * (1/N) (e^{logvar} - 1) / 2
    encoder.backward([dL/dmu, dL/dlogvar])

The importance-weighted objective (``objective="iwae"``, Burda et al. 2016) draws k codes per image,
``z_ni = mu_n + exp(logvar_n / 2) * eps_ni`` with ``eps`` of shape (N, k, K), and minimises

    L      = -1/N sum_n [ logsumexp_i(log w_ni) - log k ]             the negative bound L_k (beta = 1)
    log w_ni = -NLL(x_n | g(z_ni)) + beta * [ log p(z_ni) - log q(z_ni | x_n) ]

``L_k`` is a lower bound on ``log p(x)`` that is tighter than the ELBO for k > 1 (the ELBO is ``L_1``), so
the model is no longer penalised for a posterior q that misses part of the true one as long as some of the k
draws land well. The gradient weights each draw's gradient by its normalised importance weight (derived in
``importance_weighted_loss``).

Evaluation reports the ELBO with one sampled z per image and the importance-weighted estimate of
``log p(x)`` (Burda et al. 2016), which tightens towards ``log p(x)`` as the number of samples k grows.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import training
from ..backends import ops
from ..core.checks import as_generator, check_data, positive_int, real_number
from ..core.functions import binarize as binarize_images
from ..core.functions import log_softmax, logsumexp, one_hot
from ..core.layers import Layer
from ..core.registry import deserialize, serializable, serialize
from .autoencoder import _as_sequential, check_reachable, infer_input_shape
from .base import Model

LIKELIHOODS = ("bernoulli", "gaussian")
OBJECTIVES = ("elbo", "iwae")
LEARNED_VARIANCES = ("scalar", "pixel")
LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------------------------
# The math, as plain functions (tests and the PyTorch cross-check call them directly)
# ----------------------------------------------------------------------------------------------


def kl_divergence(mu, logvar):
    """``KL(N(mu, e^{logvar}) || N(0, 1))`` per image and latent dimension, shape (N, K).

    ``kl = -1/2 (1 + logvar - mu^2 - e^{logvar})``; its derivatives are ``dkl/dmu = mu`` and
    ``dkl/dlogvar = (e^{logvar} - 1) / 2`` (zero at the prior, mu = 0 and logvar = 0).
    """
    return -0.5 * (1 + logvar - mu * mu - np.exp(logvar))


def kl_term(mu, logvar, free_bits=0.0):
    """The KL term of the loss, batch-averaged, with its gradients: ``(value, dvalue/dmu, dvalue/dlogvar)``.

    Without free bits, ``KL = 1/N sum_n sum_j kl_nj``, so ``dKL/dmu_nj = mu_nj / N`` and
    ``dKL/dlogvar_nj = (e^{logvar_nj} - 1) / (2N)``.

    Free bits (Kingma et al. 2016): each latent dimension's batch-mean KL ``kbar_j = 1/N sum_n kl_nj`` is
    floored at ``free_bits`` nats, ``KL_fb = sum_j max(free_bits, kbar_j)``. A dimension below the floor adds a
    constant and receives no gradient, so the optimiser stops squeezing it onto the prior (where it would
    carry no information: posterior collapse); dimensions above the floor keep the gradient above.
    """
    per_dim = kl_divergence(mu, logvar).mean(axis=0)
    value = float(np.maximum(per_dim, free_bits).sum(dtype=np.float64))
    above_floor = per_dim > free_bits if free_bits > 0 else np.ones(per_dim.shape, dtype=bool)
    scale = above_floor.astype(mu.dtype) / mu.shape[0]
    return value, mu * scale, 0.5 * np.expm1(logvar) * scale


def reparameterize(mu, logvar, eps):
    """``z = mu + e^{logvar/2} * eps``: a draw from ``N(mu, e^{logvar})`` that is differentiable in mu, logvar."""
    return mu + np.exp(0.5 * logvar) * eps


def reparameterize_backward(dz, logvar, eps):
    """``(dL/dmu, dL/dlogvar)`` from ``dL/dz`` with eps held fixed.

    ``dz/dmu = 1`` gives ``dL/dmu = dL/dz``; ``dz/dlogvar = eps e^{logvar/2} / 2`` gives
    ``dL/dlogvar = dL/dz * eps * e^{logvar/2} / 2``.
    """
    return dz.copy(), dz * eps * (0.5 * np.exp(0.5 * logvar))


def _per_image_sum(values):
    """Sum over every axis but the first (the pixels of each image)."""
    return values.reshape(values.shape[0], -1).sum(axis=1)


def bernoulli_nll(logits, x):
    """``-log p(x | l)`` per image, summed over pixels, for a Bernoulli with logits ``l``, shape (N,).

    ``-log p = sum_d softplus(l_d) - x_d l_d``, which equals ``-[x log s(l) + (1-x) log(1 - s(l))]`` with
    ``s`` the sigmoid, computed with the stable softplus ``max(l, 0) + log(1 + e^{-|l|})``: the operation
    ``bernoulli_nll_of_samples`` with one decoded sample per image (one pass on the fast backend, where NumPy's
    softplus makes six).
    """
    if np.shape(x) != np.shape(logits):
        raise ValueError(f"x: expected the shape of the logits {np.shape(logits)}, got {np.shape(x)}")
    n = logits.shape[0]
    return ops.bernoulli_nll_of_samples(logits.reshape(n, -1), np.reshape(x, (n, -1)), 1)


def bernoulli_nll_grad(logits, x):
    """``d(-log p(x | l))/dl = sigmoid(l) - x``, elementwise (the derivative of ``bernoulli_nll``'s sum)."""
    return ops.sigmoid(logits) - x


def gaussian_nll(mean, logvar, x):
    """``-log N(x; m, e^{s})`` per image, summed over pixels, shape (N,); ``s`` broadcasts against ``m``.

    ``-log p = 1/2 sum_d (log 2 pi + s_d + (x_d - m_d)^2 e^{-s_d})``.
    """
    r = x - mean
    return _per_image_sum(0.5 * (LOG_2PI + logvar + r * r * np.exp(-logvar)))


def gaussian_nll_grads(mean, logvar, x):
    """Elementwise derivatives of ``gaussian_nll``: ``(d/dm, d/ds)`` with the shape of ``mean``.

    ``d/dm = (m - x) e^{-s}`` and ``d/ds = (1 - (x - m)^2 e^{-s}) / 2``.
    """
    precision = np.exp(-logvar)
    r = x - mean
    dmean = -r * precision
    dlogvar = 0.5 * (1 - r * r * precision)
    return dmean, dlogvar


def log_standard_normal(z):
    """``log N(z; 0, I)`` summed over the last axis: ``-1/2 sum_j (log 2 pi + z_j^2)``."""
    return -0.5 * (LOG_2PI + z * z).sum(axis=-1)


def log_posterior_from_noise(logvar, eps):
    """``log q(z | x)`` at ``z = mu + e^{logvar/2} eps``, summed over the last axis.

    ``log N(z; mu, e^{logvar}) = -1/2 sum_j (log 2 pi + logvar_j + (z_j - mu_j)^2 e^{-logvar_j})`` and
    ``(z - mu)^2 e^{-logvar} = eps^2``, so no division by a tiny variance is needed.
    """
    return -0.5 * (LOG_2PI + logvar + eps * eps).sum(axis=-1)


def importance_weighted_bound(log_w):
    """``L_k`` per image from the log importance weights ``log w`` (N, k), and its gradient: ``(L_k, wt)``.

    ``L_k = log (1/k) sum_i w_i = logsumexp_i(log w_i) - log k``, and ``dL_k/dlog w_i = w_i / sum_j w_j = wt_i``,
    the normalised importance weights (a softmax over the k draws of each image; each row sums to 1).
    """
    k = log_w.shape[1]
    return logsumexp(log_w, axis=1) - log_w.dtype.type(math.log(k)), np.exp(log_softmax(log_w))


# ----------------------------------------------------------------------------------------------
# The learned output variance of a Gaussian decoder
# ----------------------------------------------------------------------------------------------


@serializable
class LogVariance(Layer):
    """A learned log-variance ``theta`` for a Gaussian likelihood: one scalar (``size=1``) or one per pixel.

    It is a parameter, not a function of z: ``forward(m)`` returns ``s = theta`` broadcast to the shape of
    the decoder's mean ``m`` (N, ...). Starts at 0 (variance 1).
    """

    def __init__(self, size=1, dtype=np.float32, name=None):
        super().__init__(name=name)
        self.size = positive_int(size, "size")
        self.params = {"logvar": np.zeros(self.size, dtype=dtype)}
        self.zero_grads()

    def forward(self, x, training=False):
        """``s = theta`` broadcast over the batch (and over the pixels when ``size == 1``)."""
        per_sample = x.shape[1:] if self.size > 1 else (1,) * (x.ndim - 1)
        if self.size > 1 and math.prod(per_sample) != self.size:
            raise ValueError(f"LogVariance.forward: x must have {self.size} values per sample, got shape {x.shape}")
        self._shape = x.shape
        return np.broadcast_to(self.params["logvar"].reshape((1,) + per_sample), x.shape)

    def backward(self, dy):
        """``dtheta = sum of dy over the axes theta was broadcast along``; ``dx = 0`` (s does not depend on x)."""
        flat = dy.reshape(dy.shape[0], -1)
        self.grads["logvar"] = flat.sum(axis=0) if self.size > 1 else flat.sum().reshape(1)
        return np.zeros(self._shape, dtype=dy.dtype)

    def get_config(self):
        return {"size": self.size}


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------


def _check_variance(variance, likelihood):
    """A fixed variance (a number > 0) or ``"scalar"``/``"pixel"`` for a learned one; Gaussian only."""
    if likelihood == "bernoulli":
        if variance != 1.0:
            raise ValueError(f"variance: only used with likelihood='gaussian', got {variance!r} with 'bernoulli'")
        return 1.0
    if isinstance(variance, str):
        if variance not in LEARNED_VARIANCES:
            raise ValueError(f"variance: expected a number > 0 or one of {LEARNED_VARIANCES}, got {variance!r}")
        return variance
    return real_number(variance, "variance", low=0, include_low=False)


def _check_objective(objective, k, free_bits):
    """``"elbo"`` (one draw per image, k = 1) or ``"iwae"`` with k >= 1 draws; free bits floor the ELBO's KL only."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: expected one of {OBJECTIVES}, got {objective!r}")
    k = positive_int(k, "k")
    if objective == "elbo" and k != 1:
        raise ValueError(f"k: the ELBO objective draws one z per image (k=1), got k={k}; use objective='iwae'")
    if k > 1 and free_bits > 0:
        raise ValueError(
            f"free_bits: the floor applies to the ELBO's KL term, which the IWAE objective (k={k}) does not have; "
            "use free_bits=0 with objective='iwae'"
        )
    return objective, k


# ----------------------------------------------------------------------------------------------
# VAE
# ----------------------------------------------------------------------------------------------


@serializable
class VAE(Model):
    """``VAE(encoder, decoder, latent_dim, likelihood="bernoulli", beta=1.0, warmup_epochs=0, free_bits=0.0, seed=0,
    objective="elbo", k=1)``.

    - ``encoder``: maps x to ``2 * latent_dim`` values, read as ``[mu, logvar]``; ``decoder``: maps z to the
      image's logits (``"bernoulli"``, pixel values in [0, 1]) or mean (``"gaussian"``).
    - ``variance`` (Gaussian only): a fixed output variance (default 1), or ``"scalar"`` / ``"pixel"`` to learn
      one log-variance for all pixels or one per pixel.
    - ``beta``: weight of the KL term (``beta > 1``: the beta-VAE, more disentangled and blurrier).
    - ``warmup_epochs``: KL warm-up, ``beta`` grows linearly from 0 at epoch 0 to its value at this epoch.
    - ``free_bits``: per-dimension KL floor in nats (see ``kl_term``).
    - ``binarize``: dynamic binarisation, a fresh Bernoulli draw of every training image in every batch
      (``x_d ~ Bernoulli(pixel_d)``, from the fit loop's Generator); Bernoulli likelihood only.
    - ``seed``: seeds the draws of ``evaluate``, ``elbo``, ``log_likelihood`` and ``sample`` when they are not
      given a seed, so that these numbers are reproducible.
    - ``input_shape``: per-sample input shape; inferred from a first Dense layer.
    - ``objective``: ``"elbo"`` (the VAE) or ``"iwae"``, the importance-weighted bound ``L_k`` with ``k`` draws
      per image (the IWAE, Burda et al. 2016). ``L_1`` is the ELBO, so ``objective="iwae", k=1`` trains exactly
      as the VAE does (with the KL in closed form, the lower-variance estimate of the same bound).

    Training (``fit``) minimises ``recon + beta * KL`` (nats per image) and records in the history
    ``loss`` (that objective), ``neg_elbo`` (``recon + KL``, the negative ELBO), ``recon``, ``kl`` and ``beta``.
    The IWAE (k > 1) minimises ``-L_k`` (with ``beta`` weighting ``log p(z) - log q(z | x)`` in each weight) and
    adds ``neg_iw_bound`` (``-L_k`` at beta = 1) and ``ess``, the effective number of draws per image
    ``1 / sum_i wt_i^2`` (k when the weights are equal, 1 when one draw carries them all); its ``recon`` is the
    mean over the k draws.
    ``evaluate`` returns the negative ELBO as ``loss`` (beta = 1, no floor), with ``recon`` and ``kl``.
    """

    #: columns appended to the encoder's and decoder's inputs (a ConditionalVAE's one-hot label)
    n_conditions = 0

    def __init__(self, encoder, decoder, latent_dim, likelihood="bernoulli", beta=1.0, warmup_epochs=0,
                 free_bits=0.0, seed=0, variance=1.0, binarize=False, input_shape=None, objective="elbo", k=1):
        self.encoder = _as_sequential(encoder, "encoder")
        self.decoder = _as_sequential(decoder, "decoder")
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood: expected one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood = likelihood
        self.beta = real_number(beta, "beta", low=0.0)
        self.warmup_epochs = positive_int(warmup_epochs, "warmup_epochs", minimum=0)
        self.free_bits = real_number(free_bits, "free_bits", low=0.0)
        self.objective, self.k = _check_objective(objective, k, self.free_bits)
        self.seed = positive_int(seed, "seed", minimum=0)
        self.variance = _check_variance(variance, likelihood)
        if not isinstance(binarize, bool):
            raise TypeError(f"binarize: expected True or False, got {binarize!r}")
        if binarize and likelihood != "bernoulli":
            raise ValueError("binarize: dynamic binarisation needs likelihood='bernoulli', got 'gaussian'")
        self.binarize = binarize
        self.input_shape = self._input_shape(input_shape)
        self.output_logvar = self._make_output_logvar()
        self.current_beta = self.beta
        self.optimizer = None
        if self.input_shape is not None:
            self._dry_run()

    def _input_shape(self, input_shape):
        if input_shape is not None:
            return tuple(positive_int(size, "input_shape") for size in input_shape)
        inferred = infer_input_shape(self.encoder)
        if inferred is None:
            return None
        if inferred[0] <= self.n_conditions:
            raise ValueError(
                f"encoder: its first layer takes {inferred[0]} inputs, which leaves no room for the image "
                f"beside the {self.n_conditions} label columns"
            )
        return (inferred[0] - self.n_conditions,)

    def _make_output_logvar(self):
        if self.variance not in LEARNED_VARIANCES:
            return None
        if self.variance == "pixel" and self.input_shape is None:
            raise ValueError("variance: a per-pixel variance needs input_shape (it could not be inferred)")
        size = math.prod(self.input_shape) if self.variance == "pixel" else 1
        return LogVariance(size, dtype=self.encoder.dtype or np.float32)

    def _dry_run(self):
        """Push two zero samples through encoder and decoder once, to catch mismatched shapes early."""
        x = np.zeros((2,) + self.input_shape, dtype=self.dtype)
        y = np.zeros(2, dtype=np.int64) if self.n_conditions else None
        try:
            h = self.encoder.forward(self._condition(x, y))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"encoder: a dry forward pass on input shape {x.shape[1:]} failed: {exc}") from exc
        if h.shape != (2, 2 * self.latent_dim):
            raise ValueError(
                f"encoder: must output 2 * latent_dim = {2 * self.latent_dim} values per sample (mu, logvar), "
                f"got shape {h.shape[1:]}"
            )
        try:
            out = self.decoder.forward(self._condition(np.zeros((2, self.latent_dim), self.dtype), y))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"decoder: a dry forward pass on {self.latent_dim} latent values failed: {exc}") from exc
        if out.shape[1:] != self.input_shape:
            raise ValueError(
                f"decoder: output shape per sample {out.shape[1:]} does not match the input shape {self.input_shape}"
            )

    def modules(self):
        extra = [("likelihood", self.output_logvar)] if self.output_logvar is not None else []
        return [("encoder", self.encoder), ("decoder", self.decoder)] + extra

    # --- conditioning hooks (the ConditionalVAE overrides them) ------------------------------------
    def _condition(self, a, y):
        """The network input for data or codes ``a`` given labels ``y``: ``a`` itself for an unconditional VAE."""
        return a

    def _check_labels(self, y, n, name="y"):
        if y is not None:
            raise ValueError(f"{name}: an unconditional VAE takes no labels (use ConditionalVAE), got {type(y).__name__}")
        return None

    # --- data ---------------------------------------------------------------------------------
    def prepare(self, X, y=None, name="X"):
        """Validate ``X`` (and labels) and return them in the model's dtype."""
        bernoulli = "a Bernoulli VAE" if self.likelihood == "bernoulli" else None
        X = check_data(X, name, self.dtype, self.input_shape, unit_interval_for=bernoulli)
        if self.likelihood == "gaussian":
            check_reachable(X, self.decoder, name)
        return X, self._check_labels(y, X.shape[0], f"{name} labels" if name != "X" else "y")

    def _warn_unless_binary(self, X, method):
        """Warn when a Bernoulli VAE is asked for the likelihood of grey images, for which it has none.

        ``p(x | z)`` is a product of Bernoulli probabilities, a distribution over binary images: at a grey pixel
        the "log-likelihood" is a cross-entropy, and its nats are not comparable with published figures.
        """
        if self.likelihood != "bernoulli":
            return
        grey = int(np.count_nonzero((X != 0) & (X != 1)))
        if grey:
            warnings.warn(
                f"{method}: a Bernoulli VAE's likelihood is defined for binary images, but {grey / X.size:.1%} of "
                "these pixels lie strictly between 0 and 1, so the nats are a cross-entropy, not a log-likelihood "
                "comparable with published figures; binarise the test set once with a fixed seed: "
                "npae.datasets.binarize(X_test, 0)",
                RuntimeWarning, stacklevel=3,
            )

    def _batches(self, n, batch_size):
        batch_size = positive_int(batch_size, "batch_size")
        return [slice(i, i + batch_size) for i in range(0, n, batch_size)]

    def _rng(self, seed):
        return as_generator(self.seed if seed is None else seed)

    # --- the posterior, the likelihood and the loss --------------------------------------------
    def _posterior(self, x, y, training=False):
        """``(mu, logvar)`` of ``q(z | x)``, each (N, K)."""
        h = self.encoder.forward(self._condition(x, y), training=training)
        return h[:, : self.latent_dim], h[:, self.latent_dim :]

    def _output_logvar(self, mean):
        """The Gaussian decoder's log-variance ``s``: the learned parameter, or the fixed ``log(variance)``."""
        if self.output_logvar is not None:
            return self.output_logvar.forward(mean)
        return mean.dtype.type(math.log(self.variance))

    def _nll(self, out, x):
        """``-log p(x | z)`` per image (N,), from the decoder's output."""
        if self.likelihood == "bernoulli":
            return bernoulli_nll(out, x)
        return gaussian_nll(out, self._output_logvar(out), x)

    def _nll_of_samples(self, out, x, k):
        """``-log p(x_b | z_bi)`` for k decoded samples per image (rows of ``out`` grouped by image), (B k,)."""
        if self.likelihood == "bernoulli":
            return ops.bernoulli_nll_of_samples(out.reshape(out.shape[0], -1), x.reshape(x.shape[0], -1), k)
        return self._nll(out, np.repeat(x, k, axis=0))

    def _reconstruction_loss(self, out, x):
        """``(1/N sum_n NLL_n, dL/dout)``; a learned output log-variance receives its gradient here."""
        n = x.shape[0]
        if self.likelihood == "bernoulli":
            return float(bernoulli_nll(out, x).mean(dtype=np.float64)), bernoulli_nll_grad(out, x) / n
        logvar = self._output_logvar(out)
        dmean, dlogvar = gaussian_nll_grads(out, logvar, x)
        if self.output_logvar is not None:
            self.output_logvar.backward(dlogvar / n)
        return float(gaussian_nll(out, logvar, x).mean(dtype=np.float64)), dmean / n

    def posterior_loss(self, x, mu, logvar, eps, y=None):
        """The loss given the posterior's ``mu``, ``logvar`` and fixed noise ``eps``: ``(logs, dL/dmu, dL/dlogvar)``.

        Runs the decoder forward and backward (its parameter gradients are written); the encoder is left to
        the caller. ``L = 1/N sum_n NLL(x_n | g(z_n)) + beta * KL`` with ``z = mu + e^{logvar/2} eps``, and

            dL/dmu     = dL/dz + beta * dKL/dmu
            dL/dlogvar = dL/dz * eps * e^{logvar/2} / 2 + beta * dKL/dlogvar

        (``kl_term`` gives dKL; ``beta`` is this epoch's warm-up value ``current_beta``).
        """
        z = reparameterize(mu, logvar, eps)
        out = self.decoder.forward(self._condition(z, y), training=True)
        recon, dout = self._reconstruction_loss(out, x)
        dz = self.decoder.backward(dout)[:, : self.latent_dim]
        dmu, dlogvar = reparameterize_backward(dz, logvar, eps)
        kl_value, dmu_kl, dlogvar_kl = kl_term(mu, logvar, self.free_bits)
        beta = mu.dtype.type(self.current_beta)
        dmu += beta * dmu_kl
        dlogvar += beta * dlogvar_kl
        kl = float(kl_divergence(mu, logvar).sum(axis=1).mean(dtype=np.float64))
        penalty = self.encoder.penalty_value + self.decoder.penalty_value
        logs = {
            "loss": recon + self.current_beta * kl_value + penalty,
            "neg_elbo": recon + kl,
            "recon": recon,
            "kl": kl,
            "beta": self.current_beta,
        }
        if penalty:
            logs["penalty"] = penalty
        return logs, dmu, dlogvar

    def _weighted_reconstruction_grad(self, out, x, row_weights):
        """``dL/dout`` for ``L = sum_r row_weights_r NLL_r`` over the decoded rows ``out`` (B k, ...), k per image.

        The learned output log-variance (if any) receives its gradient here, as in ``_reconstruction_loss``.
        """
        b, rows = x.shape[0], out.shape[0]
        weights = row_weights.reshape((rows,) + (1,) * (out.ndim - 1))
        if self.likelihood == "bernoulli":
            per_image = bernoulli_nll_grad(out.reshape(b, rows // b, -1), x.reshape(b, 1, -1))
            return per_image.reshape(out.shape) * weights
        logvar = self._output_logvar(out)
        dmean, dlogvar = gaussian_nll_grads(out, logvar, np.repeat(x, rows // b, axis=0))
        if self.output_logvar is not None:
            self.output_logvar.backward(dlogvar * weights)
        return dmean * weights

    def importance_weighted_loss(self, x, mu, logvar, eps, y=None):
        """The IWAE loss given ``mu``, ``logvar`` (N, K) and fixed noise ``eps`` (N, k, K): ``(logs, dL/dmu, dL/dlogvar)``.

        Runs the decoder forward and backward on the N k codes (its parameter gradients are written); the
        encoder is left to the caller. With ``z_ni = mu_n + e^{logvar_n/2} eps_ni`` and ``beta`` this epoch's
        warm-up value,

            log w_ni = -NLL(x_n | g(z_ni)) + beta [log p(z_ni) - log q(z_ni | x_n)]
            L        = -1/N sum_n [logsumexp_i(log w_ni) - log k]

        where ``log p(z) = -1/2 sum_j (log 2 pi + z_j^2)`` and, since ``z - mu = e^{logvar/2} eps``,
        ``log q(z | x) = -1/2 sum_j (log 2 pi + logvar_j + eps_j^2)``. The derivative of the log-sum-exp is the
        softmax, ``dL/dlog w_ni = -wt_ni / N`` with ``wt_ni = w_ni / sum_i' w_ni'`` (``importance_weighted_bound``),
        so each draw's gradient counts in proportion to its normalised weight:

            dL/dl_ni      = (wt_ni / N) dNLL/dl                     (Bernoulli: sigmoid(l) - x)
            dL/dz_ni      = decoder.backward(dL/dl_ni) + beta (wt_ni / N) z_ni        (d(-log p(z))/dz = z)
            dL/dmu_n      = sum_i dL/dz_ni
            dL/dlogvar_n  = sum_i dL/dz_ni * eps_ni e^{logvar_n/2} / 2  -  beta / (2N)

        The last term is ``-log q``'s direct dependence on logvar (``beta/2`` in every ``log w_ni``), weighted by
        ``sum_i wt_ni = 1``. With equal weights (``wt = 1/k``) this is the average of k ELBO gradients with a
        sampled KL; the weights shift the gradient towards the draws that explain x best.
        """
        n, k, latent = eps.shape
        z = reparameterize(mu[:, None, :], logvar[:, None, :], eps)
        y_rep = None if y is None else np.repeat(y, k)
        out = self.decoder.forward(self._condition(z.reshape(n * k, latent), y_rep), training=True)
        nll = self._nll_of_samples(out, x, k).reshape(n, k)
        log_ratio = log_standard_normal(z) - log_posterior_from_noise(logvar[:, None, :], eps)
        beta = mu.dtype.type(self.current_beta)
        bound, weights = importance_weighted_bound(-nll + beta * log_ratio)
        scaled = weights / mu.dtype.type(n)
        dout = self._weighted_reconstruction_grad(out, x, scaled.reshape(-1))
        dz = self.decoder.backward(dout)[:, :latent].reshape(n, k, latent) + beta * scaled[:, :, None] * z
        dmu = dz.sum(axis=1)
        dlogvar = (dz * eps).sum(axis=1) * (0.5 * np.exp(0.5 * logvar)) - beta / mu.dtype.type(2 * n)
        recon = float(nll.mean(dtype=np.float64))
        kl = float(kl_divergence(mu, logvar).sum(axis=1).mean(dtype=np.float64))
        penalty = self.encoder.penalty_value + self.decoder.penalty_value
        unweighted_bound = bound if self.current_beta == 1 else importance_weighted_bound(-nll + log_ratio)[0]
        logs = {
            "loss": -float(bound.mean(dtype=np.float64)) + penalty,
            "neg_iw_bound": -float(unweighted_bound.mean(dtype=np.float64)),
            "neg_elbo": recon + kl,
            "recon": recon,
            "kl": kl,
            "beta": self.current_beta,
            "ess": float((1.0 / (weights * weights).sum(axis=1, dtype=np.float64)).mean()),
        }
        if penalty:
            logs["penalty"] = penalty
        return logs, dmu, dlogvar

    @property
    def importance_weighted(self):
        """True when training uses the IWAE bound with k > 1 draws (k = 1 is the ELBO, trained as the VAE)."""
        return self.objective == "iwae" and self.k > 1

    def noise_shape(self, n):
        """The shape of the training noise ``eps`` for n images: (n, K), or (n, k, K) for the IWAE with k > 1."""
        return (n, self.k, self.latent_dim) if self.importance_weighted else (n, self.latent_dim)

    def forward_backward(self, x, eps, y=None):
        """One training pass with the noise ``eps`` given (shape ``noise_shape(N)``); gradients are left in every
        layer's ``grads``.

        Returns the logs of ``posterior_loss`` (or ``importance_weighted_loss``). Tests inject ``eps`` here to
        hold the sample fixed.
        """
        if eps.shape != self.noise_shape(x.shape[0]):
            raise ValueError(f"eps: expected shape {self.noise_shape(x.shape[0])} (noise_shape(N)), got {eps.shape}")
        mu, logvar = self._posterior(x, y, training=True)
        loss = self.importance_weighted_loss if self.importance_weighted else self.posterior_loss
        logs, dmu, dlogvar = loss(x, mu, logvar, eps, y)
        self.encoder.backward(np.concatenate([dmu, dlogvar], axis=1), need_input_grad=False)
        return logs

    # --- training -----------------------------------------------------------------------------
    def beta_at(self, epoch):
        """KL warm-up: ``beta * min(1, epoch / warmup_epochs)`` (epochs count from 0), or ``beta`` without warm-up."""
        if self.warmup_epochs == 0:
            return self.beta
        return self.beta * min(1.0, epoch / self.warmup_epochs)

    def start_epoch(self, epoch, epochs):
        self.current_beta = self.beta_at(epoch)

    def train_batch(self, xb, yb, rng):
        """Binarise ``xb`` afresh (when ``binarize``), draw ``eps ~ N(0, I)`` from ``rng``, run forward/backward."""
        if self.binarize:
            xb = binarize_images(xb, rng)
        eps = rng.standard_normal(self.noise_shape(xb.shape[0]), dtype=self.dtype)
        return self.forward_backward(xb, eps, yb)

    def fit(self, X, *, y=None, epochs=10, batch_size=100, validation_data=None, optimizer=None, seed=0, **kwargs):
        """Train with minibatch gradient descent; returns a ``History`` (see ``npae.training.fit``).

        ``y``: the labels of a ``ConditionalVAE`` (None for a VAE). The KL warm-up restarts at epoch 0 on every
        call.
        """
        return training.fit(
            self, X, y=y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
            optimizer=optimizer, seed=seed, **kwargs,
        )

    # --- evaluation ---------------------------------------------------------------------------
    def _sampled_terms(self, X, y, seed, batch_size):
        """Per image ``(NLL, KL)`` with one ``z ~ q(z | x)`` drawn per image (nats)."""
        rng = self._rng(seed)
        recon, kl = np.empty(X.shape[0], self.dtype), np.empty(X.shape[0], self.dtype)
        for b in self._batches(X.shape[0], batch_size):
            yb = None if y is None else y[b]
            mu, logvar = self._posterior(X[b], yb)
            eps = rng.standard_normal(mu.shape, dtype=self.dtype)
            out = self.decoder.forward(self._condition(reparameterize(mu, logvar, eps), yb))
            recon[b] = self._nll(out, X[b])
            kl[b] = kl_divergence(mu, logvar).sum(axis=1)
        return recon, kl

    def elbo(self, X, y=None, seed=None, batch_size=1000):
        """The ELBO of each image, ``log p(x | z) - KL(q(z | x) || p(z))`` with one ``z ~ q(z | x)`` (nats), (N,).

        A lower bound on ``log p(x)`` (in expectation over z); higher is better. For a Bernoulli VAE pass
        binary images (the test set binarised once with a fixed seed): grey images get a warning.
        """
        X, y = self.prepare(X, y)
        self._warn_unless_binary(X, "elbo")
        recon, kl = self._sampled_terms(X, y, seed, batch_size)
        return -(recon + kl)

    def evaluate(self, X, y=None, batch_size=1000, seed=None):
        """``{"loss": negative ELBO, "recon": NLL, "kl": KL}``, means in nats per image (one z sampled, seeded)."""
        X, y = self.prepare(X, y)
        recon, kl = self._sampled_terms(X, y, seed, batch_size)
        return {
            "loss": float((recon + kl).mean(dtype=np.float64)),
            "recon": float(recon.mean(dtype=np.float64)),
            "kl": float(kl.mean(dtype=np.float64)),
        }

    def _log_weights(self, x, y, mu, logvar, k, rng):
        """``log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)`` for k draws per image, shape (B, k)."""
        b, latent = mu.shape
        eps = rng.standard_normal((b, k, latent), dtype=self.dtype)
        z = reparameterize(mu[:, None, :], logvar[:, None, :], eps)
        y_rep = None if y is None else np.repeat(y, k)
        out = self.decoder.forward(self._condition(z.reshape(b * k, latent), y_rep))
        log_px = -self._nll_of_samples(out, x, k).reshape(b, k)
        return log_px + log_standard_normal(z) - log_posterior_from_noise(logvar[:, None, :], eps)

    def log_likelihood(self, X, y=None, k=1000, batch_size=10000, seed=None):
        """Importance-weighted estimate of ``log p(x)`` per image (nats), shape (N,) (Burda et al. 2016).

            L_k = log (1/k) sum_{i=1..k} p(x, z_i) / q(z_i | x),   z_i ~ q(z | x)

        computed as ``logsumexp_i(log w_i) - log k``. ``E[L_1]`` is the ELBO, ``E[L_k]`` never decreases with k
        and tends to ``log p(x)``. ``batch_size`` is the number of (image, sample) pairs per decoder pass, which
        bounds memory at about ``batch_size * D`` values per array: k = 1000 on the 10,000 MNIST test images
        runs in a few minutes on two cores. For a Bernoulli VAE pass binary images: grey images get a warning.
        """
        X, y = self.prepare(X, y)
        self._warn_unless_binary(X, "log_likelihood")
        k = positive_int(k, "k")
        batch_size = positive_int(batch_size, "batch_size")
        rng = self._rng(seed)
        per_pass = min(k, batch_size)
        result = np.empty(X.shape[0], self.dtype)
        for b in self._batches(X.shape[0], max(1, batch_size // k)):
            yb = None if y is None else y[b]
            mu, logvar = self._posterior(X[b], yb)
            log_w = np.concatenate(
                [self._log_weights(X[b], yb, mu, logvar, min(per_pass, k - s), rng) for s in range(0, k, per_pass)],
                axis=1,
            )
            result[b] = logsumexp(log_w, axis=1) - math.log(k)
        return result

    # --- encoding, decoding, generation -------------------------------------------------------
    def _output(self, out):
        """The decoder's image: pixel probabilities ``sigmoid(l)`` (Bernoulli) or the Gaussian mean."""
        return ops.sigmoid(out) if self.likelihood == "bernoulli" else out

    def encode(self, X, y=None, batch_size=1000):
        """``(mu, logvar)`` of ``q(z | x)`` for each image, each (N, latent_dim)."""
        X, y = self.prepare(X, y)
        parts = [self._posterior(X[b], None if y is None else y[b]) for b in self._batches(X.shape[0], batch_size)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def active_units(self, X, y=None, threshold=0.01):
        """The number of latent dimensions the model uses: those whose posterior mean varies across the images
        ``X`` with variance above ``threshold`` (Burda et al. 2016: ``Cov_x(E_q[z_j]) > 10^-2``).

        A dimension whose ``mu`` is the same for every image says nothing about the image: its posterior is the
        prior, and the decoder ignores it.
        """
        threshold = real_number(threshold, "threshold", low=0.0)
        mu, _ = self.encode(X, y)
        return int((mu.var(axis=0, dtype=np.float64) > threshold).sum())

    def decode(self, Z, y=None, batch_size=1000):
        """Images from codes ``Z`` (N, latent_dim): pixel probabilities (Bernoulli) or means (Gaussian)."""
        Z = check_data(Z, "Z", self.dtype, (self.latent_dim,))
        y = self._check_labels(y, Z.shape[0])
        return np.concatenate([
            self._output(self.decoder.forward(self._condition(Z[b], None if y is None else y[b])))
            for b in self._batches(Z.shape[0], batch_size)
        ])

    def reconstruct(self, X, y=None, batch_size=1000):
        """``decode(mu(x))``: the image of each input's posterior mean."""
        mu, _ = self.encode(X, y, batch_size)
        return self.decode(mu, y, batch_size)

    def sample(self, n, *, labels=None, seed=None):
        """``n`` new images ``decode(z)`` with ``z ~ N(0, I)`` drawn from ``seed`` (default: the model's seed).

        ``labels``: for a ``ConditionalVAE``, the digit of every sample (one int, or ``n`` ints)."""
        n = positive_int(n, "n")
        z = self._rng(seed).standard_normal((n, self.latent_dim), dtype=self.dtype)
        return self.decode(z, self._sample_labels(labels, n))

    def _sample_labels(self, labels, n):
        if labels is not None:
            raise ValueError(f"labels: an unconditional VAE samples without labels, got {labels!r:.60}")
        return None

    def _single_code(self, x, y, name):
        """The posterior mean of one image ``x`` (its per-sample shape, or a batch of one)."""
        x = np.asarray(x)
        if self.input_shape is not None and x.shape == self.input_shape:
            x = x[None]
        if x.ndim < 2 or x.shape[0] != 1:
            raise ValueError(f"{name}: expected one image of shape {self.input_shape}, got shape {x.shape}")
        return self.encode(x, None if y is None else np.array([y]))[0][0]

    def interpolate(self, x1, x2, steps=10, y=None):
        """Images decoded along the straight line between the posterior means of ``x1`` and ``x2``, (steps, ...)."""
        steps = positive_int(steps, "steps", minimum=2)
        mu1, mu2 = self._single_code(x1, y, "x1"), self._single_code(x2, y, "x2")
        t = np.linspace(0, 1, steps, dtype=self.dtype)[:, None]
        return self.decode((1 - t) * mu1 + t * mu2, None if y is None else np.full(steps, y))

    def traverse(self, x, dim, values, y=None):
        """Images decoded from ``x``'s posterior mean with latent dimension ``dim`` set to each of ``values``."""
        dim = positive_int(dim, "dim", minimum=0)
        if dim >= self.latent_dim:
            raise ValueError(f"dim: expected a latent dimension in [0, {self.latent_dim}), got {dim}")
        values = np.asarray(values, dtype=self.dtype).reshape(-1)
        codes = np.repeat(self._single_code(x, y, "x")[None], values.size, axis=0)
        codes[:, dim] = values
        return self.decode(codes, None if y is None else np.full(values.size, y))

    # --- persistence --------------------------------------------------------------------------
    def get_config(self):
        return {
            "encoder": serialize(self.encoder),
            "decoder": serialize(self.decoder),
            "latent_dim": self.latent_dim,
            "likelihood": self.likelihood,
            "beta": self.beta,
            "warmup_epochs": self.warmup_epochs,
            "free_bits": self.free_bits,
            "seed": self.seed,
            "variance": self.variance,
            "binarize": self.binarize,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "objective": self.objective,
            "k": self.k,
        }

    @classmethod
    def from_config(cls, config):
        rest = {k: v for k, v in config.items() if k not in ("encoder", "decoder")}
        return cls(deserialize(config["encoder"]), deserialize(config["decoder"]), **rest)

    def __repr__(self):
        return (
            f"{type(self).__name__}(latent_dim={self.latent_dim}, likelihood={self.likelihood!r}, beta={self.beta}, "
            f"objective={self.objective!r}, k={self.k},\n"
            f" encoder={self.encoder.describe()},\n decoder={self.decoder.describe()})"
        )


@serializable
class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder both read the one-hot label: ``q(z | x, y)`` and ``p(x | z, y)``.

    The encoder's input is ``[x, onehot(y)]`` (D + n_classes values) and the decoder's ``[z, onehot(y)]``
    (latent_dim + n_classes). Since the label is given, z need only carry the style (slant, thickness), and
    ``sample(n, labels=c)`` draws images of digit ``c``. ``fit``, ``elbo``, ``log_likelihood``, ``evaluate``
    and ``encode`` take the labels ``y`` (ints in [0, n_classes)); dense (N, D) data only.
    """

    def __init__(self, encoder, decoder, latent_dim, n_classes=10, **kwargs):
        self.n_classes = positive_int(n_classes, "n_classes", minimum=2)
        super().__init__(encoder, decoder, latent_dim, **kwargs)
        if self.input_shape is None or len(self.input_shape) != 1:
            raise ValueError(
                f"encoder: a ConditionalVAE needs flat (N, D) inputs and a first Dense layer, got input shape "
                f"{self.input_shape}"
            )

    @property
    def n_conditions(self):
        return self.n_classes

    def _condition(self, a, y):
        return np.concatenate([a, one_hot(y, self.n_classes, a.dtype)], axis=1)

    def _check_labels(self, y, n, name="y"):
        if y is None:
            raise ValueError(f"{name}: a ConditionalVAE needs integer labels in [0, {self.n_classes}), got None")
        y = np.asarray(y)
        if y.dtype.kind not in "iu":
            raise TypeError(f"{name}: expected integer labels, got dtype {y.dtype}")
        if y.shape != (n,):
            raise ValueError(f"{name}: expected shape ({n},), one label per sample, got {y.shape}")
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"{name}: expected labels in [0, {self.n_classes}), got range [{y.min()}, {y.max()}]")
        return y.astype(np.int64)

    def _sample_labels(self, labels, n):
        if labels is None:
            raise ValueError(f"labels: a ConditionalVAE samples given labels (an int or {n} ints), got None")
        labels = np.asarray(labels)
        return np.full(n, labels) if labels.ndim == 0 else labels

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}
