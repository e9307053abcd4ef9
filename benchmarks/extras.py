"""npae-only measurements beside the comparison: where a step's time goes, peak memory, and a cold start.

``profile_step`` is the one in-process measurement: it wraps npae's layers in timers inside one worker (npae
alone in it), to show where a training step of npae goes; it compares nothing with torch.
"""

from __future__ import annotations

import resource
import time

from .models import BATCH, TRAINERS, data_for


def run_steps(step, X, steps, start=0):
    """``step`` on ``steps`` consecutive batches of the pool (wrapping around), starting at batch ``start``."""
    n_batches = X.shape[0] // BATCH
    for i in range(start, start + steps):
        j = i % n_batches
        step(X[j * BATCH : (j + 1) * BATCH])


def profile_step(kind, steps=20):
    """Milliseconds per npae training step in each layer type (forward, backward), the loss, Adam, and the rest
    (batch slicing, the VAE's own terms, Python), after two warm-up steps."""
    trainer = TRAINERS["npae"](kind)
    X, _ = data_for(kind)
    totals, depth = {}, [0]

    def timed(key, fn):
        def call(*args, **kwargs):  # only the outermost timed call counts (backward calls backward_params)
            depth[0] += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    totals[key] = totals.get(key, 0.0) + time.perf_counter() - start
        return call

    model = trainer.model
    for net in (model.encoder, model.decoder):
        for layer in net.layers:
            name = type(layer).__name__
            layer.forward = timed(f"{name} forward", layer.forward)
            layer.backward = timed(f"{name} backward", layer.backward)
            layer.backward_params = timed(f"{name} backward", layer.backward_params)
    if hasattr(model, "loss") and hasattr(model.loss, "value_and_grad"):
        model.loss.value_and_grad = timed("loss", model.loss.value_and_grad)
    trainer.opt.step = timed("Adam step", trainer.opt.step)
    run_steps(trainer.step, X, 2)
    totals.clear()
    start = time.perf_counter()
    run_steps(trainer.step, X, steps, start=2)
    step_time = time.perf_counter() - start
    totals["other (model glue, VAE terms)"] = step_time - sum(totals.values())
    return {key: {"ms_per_step": 1000 * value / steps, "share": value / step_time}
            for key, value in sorted(totals.items(), key=lambda kv: -kv[1])}


def peak_memory(library, kind, steps=5):
    """Peak RSS growth (MiB) of ``steps`` training steps over the process after import and build."""
    trainer = TRAINERS[library](kind)
    X, _ = data_for(kind, real=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run_steps(trainer.step, X, steps)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def first_step(kind):
    """Seconds to import npae, build ``kind`` and run its first training step (JIT compile or cache load)."""
    start = time.perf_counter()
    trainer = TRAINERS["npae"](kind)
    X, _ = data_for(kind, real=False)
    trainer.step(X[:BATCH])
    return time.perf_counter() - start
