"""Training speed of npae against PyTorch on three benchmark models (DenseAE, ConvAE, VAE, defined below).

    python -m benchmarks.train_speed                 # 1 and 2 threads, all models, JSON to benchmarks/out/
    python -m benchmarks.train_speed --threads 2 --models conv --repeats 9

For each thread count a fresh worker process is started with OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS set (the
only reliable way to fix BLAS and Numba thread pools); inside it, npae and PyTorch build the same model from
the same initial weights (copied with ``npae.torch_bridge``) and train it with Adam(1e-3), float32, batch
200, on MNIST-shaped data. Timed runs alternate npae and torch (A B A B ...) after a warm-up, so both see the
same machine load; the ratio of medians from the same run is the figure to quote. The worker also measures
inference (encoder) throughput, and, in separate processes, the peak memory of training (RSS growth over
the process's size after building the model), profiles a training step of each model per layer type, and
times a cold start in fresh processes (``import npae``; ConvAE's first step with Numba's cache, and without).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH = 200
MODELS = ("dense", "conv", "vae")
POOL = 2000  # images cycled through during timing


# ----------------------------------------------------------------------------------------------
# the three models, in npae and (copied) in torch
# ----------------------------------------------------------------------------------------------


def build_npae(kind, seed=0):
    from npae import Autoencoder
    from npae.models import zoo

    if kind == "dense":
        rng = np.random.default_rng(seed)
        encoder = zoo.mlp((784, 512, 128, 32), "relu", "tanh", init="torch_default", rng=rng)
        decoder = zoo.mlp((32, 128, 512, 784), "relu", "sigmoid", init="torch_default", rng=rng)
        return Autoencoder(encoder, decoder, loss="mse")
    if kind == "conv":
        return zoo.conv_autoencoder(code_dim=32, seed=seed)
    return zoo.mlp_vae(seed=seed)


def data_for(kind, seed=0, real=True):
    """MNIST images when available and ``real`` (else uniform noise), shaped and binarized as the model wants.

    The memory measurement uses noise: reading MNIST would set the process's peak RSS before training starts.
    """
    rng = np.random.default_rng(seed)
    images, source = None, "uniform noise"
    if real:
        try:
            from npae.datasets import load_mnist

            images = load_mnist("test")[0][:POOL]
            source = "MNIST"
        except Exception:  # noqa: BLE001 - any failure to find data: time on noise of the same shape
            source = "uniform noise (MNIST not found)"
    if images is None:
        images = rng.random((POOL, 1, 28, 28)).astype(np.float32)
    if kind == "vae":
        images = (rng.random(images.shape) < images).astype(np.float32)
    if kind != "conv":
        images = images.reshape(POOL, -1)
    return np.ascontiguousarray(images), source


class NpaeTrainer:
    def __init__(self, model):
        from npae import Adam
        from npae.training import parameter_slots

        self.model, self.opt, self.slots = model, Adam(1e-3), parameter_slots
        self.rng = np.random.default_rng(0)
        if hasattr(model, "binarize"):
            model.binarize = False  # the benchmark feeds pre-binarized data to both libraries

    def step(self, xb):
        self.model.train_batch(xb, None, self.rng)
        self.opt.step(self.slots(self.model))

    def encode(self, xb):
        self.model.encoder.forward(xb)


class TorchTrainer:
    def __init__(self, model, kind):
        import torch

        from npae.gradcheck.torch_bridge import to_torch

        self.torch, self.kind = torch, kind
        self.encoder, self.decoder = to_torch(model.encoder), to_torch(model.decoder)
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.opt = torch.optim.Adam(params, lr=1e-3)
        self.latent = getattr(model, "latent_dim", None)
        self.gen = torch.Generator().manual_seed(0)

    def loss(self, x):
        F = self.torch.nn.functional
        if self.kind != "vae":
            return F.mse_loss(self.decoder(self.encoder(x)), x)
        h = self.encoder(x)
        mu, logvar = h[:, : self.latent], h[:, self.latent :]
        eps = self.torch.randn(mu.shape, generator=self.gen)
        z = mu + self.torch.exp(0.5 * logvar) * eps
        logits = self.decoder(z)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        kl = -0.5 * self.torch.sum(1 + logvar - mu * mu - self.torch.exp(logvar)) / x.shape[0]
        return recon + kl

    def step(self, xb):
        self.opt.zero_grad(set_to_none=True)
        self.loss(self.torch.from_numpy(xb)).backward()
        self.opt.step()

    def encode(self, xb):
        with self.torch.no_grad():
            self.encoder(self.torch.from_numpy(xb))


def make_trainers(kind, with_torch):
    model = build_npae(kind)
    trainers = {}
    if with_torch:
        trainers["torch"] = TorchTrainer(model, kind)  # copies the initial weights before npae trains
    trainers["npae"] = NpaeTrainer(model)
    return trainers


# ----------------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------------


def throughput(fn, X, steps):
    """Samples per second of ``fn`` over ``steps`` consecutive batches of the pool."""
    n_batches = X.shape[0] // BATCH
    t0 = time.perf_counter()
    for i in range(steps):
        j = i % n_batches
        fn(X[j * BATCH : (j + 1) * BATCH])
    return steps * BATCH / (time.perf_counter() - t0)


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def time_model(kind, repeats, steps, with_torch):
    X, source = data_for(kind)
    trainers = make_trainers(kind, with_torch)
    names = list(trainers)
    t0 = time.perf_counter()
    first = {}
    for name in names:  # warm-up: JIT compile (or cache load), BLAS pools, allocator
        s = time.perf_counter()
        trainers[name].step(X[:BATCH])
        first[name] = time.perf_counter() - s
        throughput(trainers[name].step, X, 3)
    train = {name: [] for name in names}
    infer = {name: [] for name in names}
    for _ in range(repeats):  # interleaved: A B A B ...
        for name in names:
            train[name].append(throughput(trainers[name].step, X, steps))
        for name in names:
            infer[name].append(throughput(trainers[name].encode, X, steps))
    result = {
        "data": source,
        "first_step_seconds": first,
        "train_samples_per_s": {k: summary(v) for k, v in train.items()},
        "encode_samples_per_s": {k: summary(v) for k, v in infer.items()},
        "wall_seconds": time.perf_counter() - t0,
    }
    if with_torch:
        result["train_ratio_npae_over_torch"] = (
            result["train_samples_per_s"]["npae"]["median"] / result["train_samples_per_s"]["torch"]["median"]
        )
        result["encode_ratio_npae_over_torch"] = (
            result["encode_samples_per_s"]["npae"]["median"] / result["encode_samples_per_s"]["torch"]["median"]
        )
    return result


def profile_model(kind, steps=20):
    """Milliseconds per training step spent in each npae layer type (forward and backward), the loss, the
    optimizer and everything else (batch slicing, the VAE's own loss terms, Python overhead).

    Each layer's methods are wrapped by timers on the instance, so the step that is timed is the real
    ``train_batch`` + ``Adam.step`` of the benchmark.
    """
    trainer = make_trainers(kind, with_torch=False)["npae"]
    X, _ = data_for(kind)
    totals, depth = {}, [0]

    def timer(key, fn):
        def timed(*a, **kw):  # only the outermost timed call counts (backward calls backward_params)
            depth[0] += 1
            s = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    totals[key] = totals.get(key, 0.0) + time.perf_counter() - s
        return timed

    model = trainer.model
    for net in (model.encoder, model.decoder):
        for layer in net.layers:
            name = type(layer).__name__
            layer.forward = timer(f"{name} forward", layer.forward)
            layer.backward = timer(f"{name} backward", layer.backward)
            layer.backward_params = timer(f"{name} backward", layer.backward_params)
    if hasattr(model, "loss") and hasattr(model.loss, "value_and_grad"):
        model.loss.value_and_grad = timer("loss", model.loss.value_and_grad)
    trainer.opt.step = timer("Adam step", trainer.opt.step)
    step_time = 0.0
    for step in range(steps + 2):
        if step == 2:
            totals.clear()  # the first two steps are warm-up
            step_time = 0.0
        j = step % (X.shape[0] // BATCH)
        s = time.perf_counter()
        trainer.step(X[j * BATCH : (j + 1) * BATCH])
        step_time += time.perf_counter() - s
    totals["other (model glue, VAE terms)"] = step_time - sum(totals.values())
    return {k: {"ms_per_step": 1000 * v / steps, "share": v / step_time}
            for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def peak_memory(lib, kind, steps=5):
    """Peak RSS growth (MiB) of ``steps`` training steps over the process after import and build."""
    X, _ = data_for(kind, real=False)
    trainers = make_trainers(kind, with_torch=(lib == "torch"))
    trainer = trainers[lib]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    throughput(trainer.step, X, steps)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (rss_after - rss_before) / 1024


def first_step(kind):
    """Seconds to import npae, build ``kind`` and run its first training step (JIT compile or cache load)."""
    t0 = time.perf_counter()
    trainer = make_trainers(kind, with_torch=False)["npae"]
    X, _ = data_for(kind, real=False)
    trainer.step(X[:BATCH])
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------------------
# processes
# ----------------------------------------------------------------------------------------------


def has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def worker(args):
    if args.first_step:  # before anything else is imported: the timer includes importing npae and Numba
        print(json.dumps({"seconds": first_step(args.first_step)}))
        return
    import numba

    args.threads = args.threads[0]
    if has_torch():
        import torch

        torch.set_num_threads(args.threads)
    if args.memory:
        lib, kind = args.memory
        print(json.dumps({"peak_mib": peak_memory(lib, kind)}))
        return
    out = {"threads": args.threads, "numba_threads": numba.get_num_threads(), "models": {}}
    for kind in args.models:
        out["models"][kind] = time_model(kind, args.repeats, args.steps, has_torch())
    if args.profile:
        out["profiles"] = {kind: profile_model(kind) for kind in args.models}
    print(json.dumps(out))


def run_worker(threads, extra, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [sys.executable, "-m", "benchmarks.train_speed", "--worker", "--threads", str(threads), *extra]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker failed ({' '.join(cmd)}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_start(threads):
    """Fresh processes: ``import npae`` (median of 5), ConvAE's first step with the kernels loaded from Numba's
    cache, and the same with an empty cache (every kernel the step needs compiled)."""
    import tempfile

    imports = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import npae"], check=True)
        imports.append(time.perf_counter() - t0)
    out = {"import_npae_seconds": statistics.median(imports)}
    run_worker(threads, ["--first-step", "conv"])  # make sure the on-disk cache holds the kernels
    out["conv_first_step_cached_seconds"] = run_worker(threads, ["--first-step", "conv"])["seconds"]
    with tempfile.TemporaryDirectory() as cache:
        out["conv_first_step_uncached_seconds"] = run_worker(
            threads, ["--first-step", "conv"], {"NUMBA_CACHE_DIR": cache})["seconds"]
    return out


def versions():
    import numba

    info = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.system()}"}
    if has_torch():
        import torch

        info["torch"] = torch.__version__
    return info


def print_table(results):
    print(f"\n{'model':6} {'thr':>3} {'npae samples/s (min-max)':>28} {'torch samples/s (min-max)':>28} {'ratio':>6}")
    for run in results["runs"]:
        for kind, r in run["models"].items():
            n = r["train_samples_per_s"]["npae"]
            line = f"{kind:6} {run['threads']:>3} {n['median']:>10.0f} ({n['min']:.0f}-{n['max']:.0f})".ljust(41)
            if "torch" in r["train_samples_per_s"]:
                t = r["train_samples_per_s"]["torch"]
                line += f" {t['median']:>10.0f} ({t['min']:.0f}-{t['max']:.0f})".ljust(29)
                line += f" {r['train_ratio_npae_over_torch']:>5.2f}x"
            print(line)
    print("\ninference (encoder forward, samples/s, median):")
    for run in results["runs"]:
        for kind, r in run["models"].items():
            e = r["encode_samples_per_s"]
            ratio = f"  ratio {r['encode_ratio_npae_over_torch']:.2f}x" if "encode_ratio_npae_over_torch" in r else ""
            torch_part = f"  torch {e['torch']['median']:.0f}" if "torch" in e else ""
            print(f"  {kind:6} {run['threads']} threads: npae {e['npae']['median']:.0f}{torch_part}{ratio}")
    if results.get("memory"):
        print("\npeak memory of training (RSS growth over the built model, MiB):")
        for kind, libs in results["memory"].items():
            print("  " + kind + ": " + ", ".join(f"{lib} {mib:.0f}" for lib, mib in libs.items()))
    if results.get("cold_start"):
        c = results["cold_start"]
        print("\ncold start (fresh processes):")
        print(f"  python -c 'import npae'                        {c['import_npae_seconds']:6.2f} s (median of 5)")
        print(f"  import npae, build ConvAE, first step (cached) {c['conv_first_step_cached_seconds']:6.2f} s")
        print(f"  the same with an empty Numba cache             {c['conv_first_step_uncached_seconds']:6.2f} s (compile)")
    for run in results["runs"]:
        for kind, profile in run.get("profiles", {}).items():
            print(f"\n{kind} step profile, npae, {run['threads']} threads (ms per step, share):")
            for k, v in profile.items():
                print(f"  {k:30} {v['ms_per_step']:8.2f} ms  {100 * v['share']:5.1f}%")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per library (after warm-up)")
    parser.add_argument("--steps", type=int, default=15, help="training steps per timed run")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--out", default="benchmarks/out/train_speed.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--first-step", choices=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 5:
        parser.error("--repeats: at least 5 timed runs per library are needed for a median")
    if args.worker:
        worker(args)
        return 0
    common = ["--models", *args.models, "--repeats", str(args.repeats), "--steps", str(args.steps)]
    results = {"versions": versions(), "batch": BATCH, "optimizer": "Adam(1e-3)", "dtype": "float32", "runs": []}
    for threads in args.threads:
        print(f"timing with {threads} thread(s)...", flush=True)
        profile = [] if args.no_profile or threads != max(args.threads) else ["--profile"]
        results["runs"].append(run_worker(threads, common + profile))
    if not args.no_memory:
        libs = ["npae"] + (["torch"] if has_torch() else [])
        results["memory"] = {
            kind: {lib: run_worker(max(args.threads), ["--memory", lib, kind])["peak_mib"] for lib in libs}
            for kind in args.models
        }
    if not args.no_cold_start:
        print("cold start...", flush=True)
        results["cold_start"] = cold_start(max(args.threads))
    print_table(results)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
