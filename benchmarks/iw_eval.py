"""The VAE's importance-weighted estimate of ``log p(x)`` with k samples per image, in npae and in PyTorch.

npae runs ``VAE.log_likelihood(X, k=k)``. The torch version is the same computation with the same weights
(copied by ``to_torch``) and the same noise (drawn from NumPy's Generator in the same order, so both give the
same estimates to float32 rounding): per group of ``batch_size // k`` images, the encoder's ``(mu, logvar)``,
``z = mu + e^{logvar/2} eps``, the decoder's logits, and

    log w = -BCE(logits, x) + log N(z; 0, I) - log q(z | x),     L_k = logsumexp(log w) - log k.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .models import build_npae

LOG_2PI = math.log(2.0 * math.pi)


def test_images(n, seed=0):
    """``n`` binarised MNIST test images (noise of the same shape without MNIST), (n, 784) float32."""
    rng = np.random.default_rng(seed)
    try:
        from npae.datasets import load_mnist

        images = load_mnist("test")[0][:n].reshape(n, -1)
    except Exception:  # noqa: BLE001 - time on noise of the same shape
        images = rng.random((n, 784), dtype=np.float32)
    return (rng.random(images.shape) < images).astype(np.float32)


def npae_log_likelihood(model, X, k, batch_size, seed):
    return model.log_likelihood(X, k=k, batch_size=batch_size, seed=seed)


def torch_log_likelihood(twin, X, k, batch_size, seed):
    """The estimate of ``VAE.log_likelihood`` computed by the torch ``twin = (encoder, decoder, latent_dim)``."""
    import torch

    encoder, decoder, latent = twin
    rng = np.random.default_rng(seed)
    functional = torch.nn.functional
    result = np.empty(X.shape[0], np.float32)
    images_per_pass = max(1, batch_size // k)
    with torch.no_grad():
        for start in range(0, X.shape[0], images_per_pass):
            x = torch.from_numpy(X[start : start + images_per_pass])
            b = x.shape[0]
            h = encoder(x)
            mu, logvar = h[:, None, :latent], h[:, None, latent:]
            eps = torch.from_numpy(rng.standard_normal((b, k, latent), dtype=np.float32))
            z = mu + torch.exp(0.5 * logvar) * eps
            logits = decoder(z.reshape(b * k, latent)).reshape(b, k, -1)
            log_px = -functional.binary_cross_entropy_with_logits(
                logits, x[:, None, :].expand_as(logits), reduction="none").sum(-1)
            log_pz = -0.5 * (LOG_2PI + z * z).sum(-1)
            log_qz = -0.5 * (LOG_2PI + logvar + eps * eps).sum(-1)
            result[start : start + b] = (torch.logsumexp(log_px + log_pz - log_qz, 1) - math.log(k)).numpy()
    return result


def time_log_likelihood(library, n_images, k, batch_size=10000, seed=0):
    """``{"seconds": ..., "estimates": first values}`` of the IW estimate on ``n_images`` test images."""
    model = build_npae("vae", seed)
    X = test_images(n_images, seed)
    if library == "npae":
        compute, target = npae_log_likelihood, model
    else:
        from npae.gradcheck.torch_bridge import to_torch

        compute, target = torch_log_likelihood, (to_torch(model.encoder), to_torch(model.decoder), model.latent_dim)
    compute(target, X[: max(1, batch_size // k)], k, batch_size, seed)  # warm-up: compile, thread pools
    t0 = time.perf_counter()
    estimates = compute(target, X, k, batch_size, seed)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "images": n_images, "k": k, "mean_estimate": float(np.mean(estimates))}
