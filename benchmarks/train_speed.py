"""Training speed of npae against PyTorch, each library alone in its own process, and rates against the machine.

    python -m benchmarks.train_speed                         # 2 and 1 threads, all models, 5 pairs (~8 min)
    python -m benchmarks.train_speed --threads 2 --models conv --pairs 7
    python -m benchmarks.train_speed --threads 2 --busy      # also with one competing process per core
    python -m benchmarks.train_speed --sections kernels iw   # only the conv kernels and the IW evaluation

What it measures (benchmarks/README.md explains each choice):

- training: every sample is a fresh worker process running one library (npae, or torch from the same initial
  weights), with OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS set to the thread count; workers alternate npae, torch,
  npae, torch ... Each worker runs the same warm-up steps, then times chunks of steps on the same batches and
  reports its median chunk in samples/s. Printed: the median and range of each library's samples/s, of the
  paired ratios npae / torch, and the FLOP rate of each against the machine's measured peak.
- peak: the best float32 GEMM rate of NumPy's BLAS on the same thread count (``rates.machine_peak``).
- kernels: GMAC/s of the fast backend's three convolution kernels on the ConvAE's four convolutions.
- iw: ``VAE.log_likelihood(k=1000)`` against the same computation in PyTorch, alternating processes.
- busy (``--busy``): the training comparison again, on the largest thread count, while one spinning process per
  core competes at the same priority.
- ``--profile``, ``--memory``, ``--cold-start``: npae-only extras (``extras.py``).

Targets (on 2 threads): ConvAE >= 2.0, DenseAE >= 1.3 and VAE >= 1.3 times torch's samples/s, and the IW
evaluation no slower than torch's; the verdicts are printed at the end. JSON goes to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from .models import BATCH, MODELS, NAMES, step_flops

LIBRARIES = ("npae", "torch")
SECTIONS = ("training", "kernels", "iw")
TARGETS = {"conv": 2.0, "dense": 1.3, "vae": 1.3}  # npae / torch samples/s on TARGET_THREADS threads
TARGET_THREADS = 2
STEPS = {"dense": 30, "conv": 10, "vae": 30}  # training steps per timed chunk (a few tenths of a second)
WARMUP_STEPS = 5
CHUNKS = 3

# The environment the benchmark started in, for every worker. npae's fast backend writes its OpenMP setting
# (GOMP_SPINCOUNT, npae/backends/fast/jit.py) into os.environ when imported, and this process imports it to
# count FLOPs: workers inheriting os.environ would run torch's OpenMP threads with npae's setting, not the user's.
USER_ENVIRONMENT = dict(os.environ)


# ----------------------------------------------------------------------------------------------
# inside a worker process
# ----------------------------------------------------------------------------------------------


def time_training(library, kind):
    """``{"samples_per_s": median chunk, "chunks": [...], "data": source}`` of ``library`` training ``kind``."""
    from .extras import run_steps
    from .models import TRAINERS, data_for

    trainer = TRAINERS[library](kind)
    X, source = data_for(kind)
    run_steps(trainer.step, X, WARMUP_STEPS)
    chunks, done = [], WARMUP_STEPS
    for _ in range(CHUNKS):
        start = time.perf_counter()
        run_steps(trainer.step, X, STEPS[kind], start=done)
        chunks.append(STEPS[kind] * BATCH / (time.perf_counter() - start))
        done += STEPS[kind]
    return {"samples_per_s": statistics.median(chunks), "chunks": chunks, "data": source}


def worker(task):
    """Run one task (a dict from ``run_worker``) in this fresh process; returns a JSON-able result."""
    threads = task["threads"]
    if task.get("library") == "torch":
        import torch

        torch.set_num_threads(threads)
    kind = task.get("model")
    if task["name"] == "train":
        return time_training(task["library"], kind)
    if task["name"] == "peak":
        from .rates import machine_peak

        return machine_peak(threads)
    if task["name"] == "kernels":
        from .rates import conv_kernel_rates

        return conv_kernel_rates()
    if task["name"] == "iw":
        from .iw_eval import time_log_likelihood

        return time_log_likelihood(task["library"], task["images"], task["k"])
    from . import extras

    if task["name"] == "profile":
        return extras.profile_step(kind)
    if task["name"] == "memory":
        return {"peak_mib": extras.peak_memory(task["library"], kind)}
    if task["name"] == "first_step":
        return {"seconds": extras.first_step(kind)}
    raise ValueError(f"unknown worker task {task['name']!r}")


# ----------------------------------------------------------------------------------------------
# the parent: processes, pairs, summaries
# ----------------------------------------------------------------------------------------------


def run_worker(name, threads, library="npae", env_extra=None, **fields):
    """Start a fresh ``python -m benchmarks.train_speed --worker`` for one task; its JSON result.

    Torch workers use npae's reference backend (they only build the initial weights with npae), so that no
    Numba thread pool is ever loaded beside torch's."""
    task = dict(fields, name=name, threads=threads, library=library)
    cmd = [sys.executable, "-m", "benchmarks.train_speed", "--worker", json.dumps(task)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = worker_environment(threads, library, env_extra)
    done = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker failed ({task}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker_environment(threads, library, env_extra=None):
    """The user's environment (``USER_ENVIRONMENT``), ``env_extra``, every thread-count variable set to
    ``threads``, and the reference backend for torch workers."""
    env = dict(USER_ENVIRONMENT, **(env_extra or {}))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    env["NPAE_BACKEND"] = "reference" if library == "torch" else env.get("NPAE_BACKEND", "fast")
    return env


def spread(values):
    """``{"median", "min", "max", "values"}`` of a list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def alternate(name, threads, pairs, value, libraries=LIBRARIES, **fields):
    """``pairs`` rounds of one fresh worker per library (npae, torch, npae, torch ...); per library the spread
    of ``value(result)``, and the spread of the paired ratios npae / torch."""
    samples = {lib: [] for lib in libraries}
    for _ in range(pairs):
        for lib in libraries:
            samples[lib].append(value(run_worker(name, threads, lib, **fields)))
    out = {lib: spread(values) for lib, values in samples.items()}
    if set(libraries) == set(LIBRARIES):
        out["ratio"] = spread([n / t for n, t in zip(samples["npae"], samples["torch"])])
    return out


def measure_training(models, threads, pairs, peak_gflops):
    """Per model: samples/s of each library (spread), the paired ratios, and GFLOP/s with the share of peak."""
    out = {}
    for kind in models:
        print(f"  {NAMES[kind]}, {threads} thread(s): {pairs} pairs of fresh processes", flush=True)
        result = alternate("train", threads, pairs, lambda r: r["samples_per_s"], model=kind)
        flops_per_sample = sum(f + b for _, f, b in step_flops(kind)) / BATCH
        for lib in LIBRARIES:
            gflops = result[lib]["median"] * flops_per_sample / 1e9
            result[lib]["gflops"], result[lib]["share_of_peak"] = gflops, gflops / peak_gflops
        out[kind] = result
    return out


def measure_iw(threads, pairs, images, k):
    print(f"  IW evaluation, k={k}, {images} images, {threads} thread(s): {pairs} pairs", flush=True)
    result = alternate("iw", threads, pairs, lambda r: r["seconds"], images=images, k=k)
    result["ratio"] = spread([1 / r for r in result["ratio"]["values"]])  # torch seconds / npae seconds
    result["check"] = {lib: run_worker("iw", threads, lib, images=min(images, 10), k=k)["mean_estimate"]
                       for lib in LIBRARIES}
    return result


def versions():
    import numba
    import numpy as np

    info = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "cpu": cpu_name(), "cores": os.cpu_count()}
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def cpu_name():
    """The CPU's model name and vector extensions, from /proc/cpuinfo (Linux), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    field = lambda key: next((l.split(":", 1)[1].strip() for l in lines if l.startswith(key)), "")  # noqa: E731
    flags = field("flags").split()
    vector = [f for f in ("avx512f", "avx2", "fma") if f in flags]
    return f"{field('model name')} ({', '.join(vector)}, {field('cpu MHz')} MHz)"


# ----------------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------------


def fmt(s, digits=0):
    return f"{s['median']:,.{digits}f} ({s['min']:,.{digits}f}-{s['max']:,.{digits}f})"


def print_training(results, title):
    print(f"\n{title}")
    header = (f"{'model':8}{'thr':>4}  {'npae samples/s (min-max)':>26}  {'torch samples/s (min-max)':>26}  "
              f"{'npae/torch (min-max)':>21}  {'npae GFLOP/s':>13}  {'torch GFLOP/s':>13}")
    print(header)
    for threads, run in results.items():
        for kind, r in run["models"].items():
            n, t = r["npae"], r["torch"]
            print(f"{NAMES[kind]:8}{threads:>4}  {fmt(n):>26}  {fmt(t):>26}  {fmt(r['ratio'], 2):>21}  "
                  f"{n['gflops']:5.1f} ({100 * n['share_of_peak']:2.0f}%)  {t['gflops']:5.1f} ({100 * t['share_of_peak']:2.0f}%)")


def print_report(results):
    v = results["versions"]
    print(f"\nmachine: {v['cores']} cores, {v['cpu']}")
    print(f"python {v['python']}, numpy {v['numpy']}, numba {v['numba']}, torch {v['torch']}")
    for threads, run in results.get("training", {}).items():
        print(f"peak (float32 GEMM, {threads} thread(s)): {run['peak']['gflops']:.1f} GFLOP/s")
    if "training" in results:
        print_training(results["training"], f"Training samples/s, each library alone in a fresh process, "
                       f"{results['pairs']} alternating pairs; batch {BATCH}, float32, Adam(1e-3). "
                       "GFLOP/s: matrix products and convolutions of a step (forward and backward) at the median "
                       "rate, and the share of the peak on the same threads.")
        kinds = next(iter(results["training"].values()))["models"]
        for kind in kinds:
            rows = step_flops(kind)
            print(f"\n{NAMES[kind]}: {sum(f + b for _, f, b in rows) / 1e9:.3f} GFLOP per step of {BATCH} "
                  "(forward + backward, MFLOP):")
            for label, forward, backward in rows:
                print(f"  {label:48} {forward / 1e6:8.1f} + {backward / 1e6:8.1f}")
    for threads, kernels in results.get("kernels", {}).items():
        print(f"\nConvolution kernels (fast backend, ConvAE shapes, batch {BATCH}, float32, {threads} thread(s)): "
              "GMAC/s, best (median) of 15 calls, and the path (w: Winograd, d: direct, g: matrix product). The "
              "multiply-adds counted are the direct sum's; Winograd's path does 16 of every 36.")
        print(f"{'convolution':18}" + "".join(f"{k:>24}" for k in ("forward", "input grad", "weight grad")))
        for conv, rates in kernels.items():
            print(f"{conv:18}" + "".join(f"{r['gmacs']:>14.1f} ({r['median_gmacs']:5.1f}) {r.get('path', '?')[0]}"
                                         for r in rates.values()))
    if "iw" in results:
        iw = results["iw"]
        per = 10000 / iw["images"] / 60
        print(f"\nIW evaluation, VAE.log_likelihood(k={iw['k']}) on {iw['images']} test images, {iw['threads']} "
              f"threads, {results['pairs']} alternating pairs (minutes per 10,000 images):")
        for lib in LIBRARIES:
            s = iw[lib]
            print(f"  {lib:6} {s['median'] * per:6.2f} ({s['min'] * per:.2f}-{s['max'] * per:.2f})")
        print(f"  torch time / npae time: {fmt(iw['ratio'], 2)}; mean estimate on 10 images: "
              + ", ".join(f"{lib} {value:.3f}" for lib, value in iw["check"].items()))
    if "busy" in results:
        print_training(results["busy"], "Busy machine: the same, with one spinning process per core competing")
        print("slowdown (quiet median / busy median):")
        for threads, run in results["busy"].items():
            for kind, r in run["models"].items():
                quiet = results["training"][threads]["models"][kind]
                print(f"  {NAMES[kind]:8} {threads} threads: " + ", ".join(
                    f"{lib} {quiet[lib]['median'] / r[lib]['median']:.2f}x" for lib in LIBRARIES))
    print_extras(results)
    print_verdicts(results)


def print_extras(results):
    for kind, profile in results.get("profiles", {}).items():
        print(f"\n{NAMES[kind]} step profile, npae alone, {TARGET_THREADS} threads (ms per step, share):")
        for key, value in profile.items():
            print(f"  {key:30} {value['ms_per_step']:8.2f} ms  {100 * value['share']:5.1f}%")
    if "memory" in results:
        print("\npeak memory of training (RSS growth over the built model, MiB):")
        for kind, libs in results["memory"].items():
            print(f"  {NAMES[kind]}: " + ", ".join(f"{lib} {mib:.0f}" for lib, mib in libs.items()))
    if "cold_start" in results:
        c = results["cold_start"]
        print(f"\ncold start: import npae {c['import']:.2f} s (median of 5); import, build ConvAE and first step "
              f"{c['cached']:.2f} s with Numba's cache, {c['uncached']:.2f} s with an empty one (compiling)")


def print_verdicts(results):
    print(f"\nVerdicts ({TARGET_THREADS} threads):")
    run = results.get("training", {}).get(TARGET_THREADS)
    for kind, target in TARGETS.items():
        if run and kind in run["models"]:
            ratio = run["models"][kind]["ratio"]["median"]
            print(f"  {NAMES[kind]:8} npae/torch {ratio:.2f} (target >= {target}): {'PASS' if ratio >= target else 'FAIL'}")
    if "iw" in results:
        ratio = results["iw"]["ratio"]["median"]
        print(f"  IW eval  torch time / npae time {ratio:.2f} (target >= 1.0): {'PASS' if ratio >= 1.0 else 'FAIL'}")


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------


def cold_start(threads):
    """Fresh processes: ``import npae`` (median of 5), then ConvAE's first step with Numba's cache, and with an
    empty one (every kernel the step needs compiled)."""
    import tempfile

    imports = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import npae"], check=True)
        imports.append(time.perf_counter() - start)
    run_worker("first_step", threads, model="conv")  # make sure the on-disk cache holds the kernels
    cached = run_worker("first_step", threads, model="conv")["seconds"]
    with tempfile.TemporaryDirectory() as cache:
        uncached = run_worker("first_step", threads, model="conv", env_extra={"NUMBA_CACHE_DIR": cache})["seconds"]
    return {"import": statistics.median(imports), "cached": cached, "uncached": uncached}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--pairs", type=int, default=5, help="alternating npae/torch process pairs per measurement")
    parser.add_argument("--iw-images", type=int, default=50, help="test images of the IW evaluation (k = 1000)")
    parser.add_argument("--busy", action="store_true", help="also train with one spinning process per core")
    parser.add_argument("--profile", action="store_true", help="npae's step profile per layer type")
    parser.add_argument("--memory", action="store_true", help="peak training memory of each library")
    parser.add_argument("--cold-start", action="store_true", help="import time and first step, cached or not")
    parser.add_argument("--out", default="benchmarks/out/train_speed.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pairs < 3:
        parser.error(f"--pairs: at least 3 pairs are needed for a median and a spread, got {args.pairs}")
    if args.busy and "training" not in args.sections:
        parser.error("--busy: compares with the quiet training figures, so --sections must include training")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    results = {"versions": versions(), "batch": BATCH, "pairs": args.pairs}
    if "training" in args.sections:
        results["training"] = {}
        for threads in args.threads:
            peak = run_worker("peak", threads)
            results["training"][threads] = {"peak": peak, "models": measure_training(
                args.models, threads, args.pairs, peak["gflops"])}
    if "kernels" in args.sections:
        results["kernels"] = {threads: run_worker("kernels", threads) for threads in args.threads}
    if "iw" in args.sections:
        threads = max(args.threads)
        results["iw"] = dict(measure_iw(threads, args.pairs, args.iw_images, 1000), threads=threads,
                             images=args.iw_images, k=1000)
    if args.busy:
        from .busy import competitors

        threads = max(args.threads)
        peak = results["training"][threads]["peak"]["gflops"]
        with competitors() as pids:
            print(f"  busy: {len(pids)} spinning processes started", flush=True)
            results["busy"] = {threads: {"models": measure_training(args.models, threads, args.pairs, peak)}}
    if args.profile:
        results["profiles"] = {kind: run_worker("profile", TARGET_THREADS, model=kind) for kind in args.models}
    if args.memory:
        results["memory"] = {kind: {lib: run_worker("memory", TARGET_THREADS, lib, model=kind)["peak_mib"]
                                    for lib in LIBRARIES} for kind in args.models}
    if args.cold_start:
        results["cold_start"] = cold_start(TARGET_THREADS)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print_report(results)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
