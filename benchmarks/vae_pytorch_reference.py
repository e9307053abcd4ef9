"""Regenerate the PyTorch curves that walkthrough 08 draws beside npae's: the same VAE, trained in PyTorch.

    python -m benchmarks.vae_pytorch_reference                 # 30 epochs, scored after 10, 20, 30: ~20 min on 1 core
    python -m benchmarks.vae_pytorch_reference --epochs 2 --score-epochs 1 2 --k 10 --n-test 500 --out /tmp/ref.json

The model and recipe are walkthrough 08's: ``npae.mlp_vae(latent_dim=32, seed=0)`` (784-512-256-(mu, logvar) 32
and 32-256-512-784 logits, ReLU), copied weight for weight into ``torch.nn`` by ``npae.gradcheck.torch_bridge``
so that both start from the same initial weights; the negative ELBO (Bernoulli cross-entropy summed over the
pixels, plus the analytic KL) in nats per image; Adam lr 1e-3, batch 100, float32; every training image
binarised afresh in every batch (PyTorch's ``bernoulli``); the test set binarised once with
``npae.binarize(x_test, TEST_BINARIZATION_SEED)``, the walkthrough's seed. After each scored epoch it reports the
mean over the test images of the ELBO (one z per image) and of the importance-weighted estimate L_k
(Burda et al. 2016; k = 1000).

The result goes to ``walkthroughs/recorded/pytorch_vae.json`` (``--out``) with the torch version, the recipe
and the data, which the walkthrough's legend quotes. PyTorch is optional: without it the script says so and
exits. It uses one thread (``--threads``): its time is not the measurement.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import pathlib
import platform
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "walkthroughs" / "recorded" / "pytorch_vae.json"
TEST_BINARIZATION_SEED = 2014  # walkthrough 08's
RECIPE = ("npae.mlp_vae(latent_dim=32, seed=0) copied into torch (784-512-256-(mu, logvar) 32, 32-256-512-784, "
          "ReLU); negative ELBO in nats per image; Adam lr 1e-3, batch 100, float32; training images binarised "
          "afresh in every batch; test set binarised once (npae.binarize, seed 2014)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--score-epochs", type=int, nargs="+", default=[10, 20, 30],
                        help="epochs after which the test bounds are measured (default 10 20 30)")
    parser.add_argument("--k", type=int, default=1000, help="importance samples per test image (default 1000)")
    parser.add_argument("--n-test", type=int, default=None, help="score only the first N test images (default all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and every random draw (default 0)")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: $NPAE_DATA_DIR)")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                        help="where to write the JSON (default walkthroughs/recorded/pytorch_vae.json)")
    args = parser.parse_args(argv)
    if sorted(args.score_epochs) != args.score_epochs or args.score_epochs[-1] > args.epochs:
        parser.error(f"--score-epochs: expected increasing epochs up to --epochs {args.epochs}, "
                     f"got {args.score_epochs}")
    return args


def torch_twin(seed):
    """npae's walkthrough-08 VAE and its PyTorch twin (encoder, decoder) with the same initial weights."""
    from npae import mlp_vae
    from npae.gradcheck.torch_bridge import to_torch

    model = mlp_vae(latent_dim=32, seed=seed)
    return to_torch(model.encoder), to_torch(model.decoder), model.latent_dim


def negative_elbo_terms(encoder, decoder, x, eps, torch):
    """Per image: ``-log p(x | z)`` (Bernoulli, summed over pixels) and ``KL(q(z | x) || N(0, I))``, nats."""
    mu, logvar = encoder(x).chunk(2, dim=1)
    z = mu + torch.exp(logvar / 2) * eps
    recon = torch.nn.functional.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(dim=1)
    kl = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(dim=1)
    return recon, kl


def iw_log_likelihood(encoder, decoder, x, k, generator, torch, chunk=20):
    """Mean over ``x`` of ``L_k = logsumexp_i(log p(x, z_i) - log q(z_i | x)) - log k``, z_i ~ q(z | x)."""
    log_2pi = math.log(2 * math.pi)
    total = 0.0
    for start in range(0, len(x), chunk):
        xb = x[start:start + chunk]
        mu, logvar = encoder(xb).chunk(2, dim=1)
        eps = torch.randn((k, *mu.shape), generator=generator)
        z = mu + torch.exp(logvar / 2) * eps                                         # (k, B, K)
        logits = decoder(z.reshape(-1, mu.shape[1])).reshape(k, len(xb), -1)
        log_px = -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, xb.expand(k, -1, -1), reduction="none").sum(dim=2)
        log_pz = -0.5 * (z**2 + log_2pi).sum(dim=2)
        log_qz = -0.5 * (eps**2 + logvar + log_2pi).sum(dim=2)
        log_w = (log_px + log_pz - log_qz).double()
        total += float((torch.logsumexp(log_w, dim=0) - math.log(k)).sum())
    return total / len(x)


def scores(encoder, decoder, x_test, k, seed, torch):
    """Mean test ELBO (one z per image) and L_k, nats per image."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        eps = torch.randn((len(x_test), encoder[-1].out_features // 2), generator=generator)
        recon, kl = negative_elbo_terms(encoder, decoder, x_test, eps, torch)
        elbo = -float((recon + kl).double().mean())
        iw = iw_log_likelihood(encoder, decoder, x_test, k, generator, torch)
    return elbo, iw


def train_and_score(args, torch):
    from npae.datasets import binarize, load_mnist

    x_train, _ = load_mnist("train", data_dir=args.data_dir, flatten=True)
    x_test, _ = load_mnist("test", data_dir=args.data_dir, flatten=True)
    x_test = binarize(x_test[:args.n_test], TEST_BINARIZATION_SEED)
    encoder, decoder, latent = torch_twin(args.seed)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    generator = torch.Generator().manual_seed(args.seed)
    x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)
    record = {"epochs": [], "elbo": [], f"iw_ll_k{args.k}": [], "seconds": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        epoch_sum = 0.0
        for batch in torch.randperm(len(x_train), generator=generator).split(100):
            xb = torch.bernoulli(x_train[batch], generator=generator)
            recon, kl = negative_elbo_terms(encoder, decoder, xb, torch.randn((len(xb), latent), generator=generator),
                                            torch)
            loss = (recon + kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_sum += loss.item() * len(xb)
        print(f"epoch {epoch}: train negative ELBO {epoch_sum / len(x_train):.2f} nats per image "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        if epoch in args.score_epochs:
            elbo, iw = scores(encoder, decoder, x_test, args.k, args.seed, torch)
            print(f"epoch {epoch}: test ELBO {elbo:.2f}, L_{args.k} {iw:.2f} nats per image", flush=True)
            for key, value in (("epochs", epoch), ("elbo", round(elbo, 2)), (f"iw_ll_k{args.k}", round(iw, 2)),
                               ("seconds", round(time.perf_counter() - start))):
                record[key].append(value)
    return record, len(x_test)


def main(argv=None):
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: the recorded curves of walkthrough 08 stay as they are "
              "(pip install torch to regenerate them)")
        return 0
    torch.set_num_threads(args.threads)
    record, n_test = train_and_score(args, torch)
    result = {
        "what": "PyTorch run of walkthrough 08's VAE, written by benchmarks/vae_pytorch_reference.py",
        "torch_version": torch.__version__.split("+")[0],
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        "recipe": RECIPE,
        "data": f"MNIST, 60000 training images; the first {n_test} test images binarised once (seed "
                f"{TEST_BINARIZATION_SEED})",
        "units": "nats per image, mean over the binarised test images",
        "k": args.k,
        **record,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
