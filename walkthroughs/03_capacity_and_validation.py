"""03 - The Goldilocks problem: how much capacity, and when to stop training.

The story
---------
An autoencoder with too little capacity (a tiny code, narrow layers) cannot represent the digits: training
and held-out errors are both high (underfitting). One with too much capacity and too little data learns the
training images themselves: its training error keeps falling while the error on images it has never seen
stops improving and then rises (overfitting). Somewhere between is "just right", and only held-out data
can tell where, since the training error always prefers the biggest model.

To make overfitting visible we train on a small subset (1000 images) for many epochs, and hold out a
**validation set** (5000 other training images) to choose capacity and stopping time; the test set is used
once, at the end, to report the chosen model honestly (choosing on the test set would make it a second
validation set, and its error optimistic).

Two sweeps, each model trained for the same number of epochs (Adam lr 1e-3, batch 100, MSE per pixel):

- **code size** k in 2..128 with hidden layers 256-128 (784-256-128-k-128-256-784);
- **hidden width** w in 16..1024 with code size 32 (784-w-32-w-784).

For every model we record the final training error, the final validation error, and the best validation
error over the epochs. The best validation error is what **early stopping** achieves: keep the weights of
the epoch with the lowest validation error and stop once it has not improved for ``patience`` epochs.
The last part takes the run whose validation error rose the most after its minimum, trains it again with
early stopping, and compares the test errors of the two.

What to look at
---------------
- ``code_size_sweep.png`` and ``width_sweep.png``: train vs validation error against capacity; the gap
  between the curves is the overfitting, and the lowest validation point is the Goldilocks model.
- ``overfitting_curves.png``: train and validation error per epoch of the run that overfits most and of the
  run with the best validation error.
- ``early_stopping.png``: the most overfitting run with and without early stopping; the dotted line marks
  the restored epoch.

What we found (full run, seed 0)
--------------------------------
The training error keeps falling with capacity while the validation error levels off: code size 64 has the
lowest validation error (0.0159 at its best epoch), 128 is no better (0.0161), and the gap between train and
validation grows from 1.4x at k = 2 to 3.7x at k = 64. Among widths, 256 is best (0.0161) and 1024 worse
(0.0187). The run that overfits most is code size 8: its validation error bottoms out at epoch 42 (0.0305)
and climbs to 0.0355 by epoch 150. With early stopping (patience 10) it stops after epoch 52, restores epoch
42, and its test error is 0.0298 instead of 0.0346 for the same model trained for all 150 epochs.

Full run: 1000 training / 5000 validation images, 150 epochs per model. ``--short``: 1000 training / 2000
validation images, 60 epochs, code sizes 2, 8, 32, 128 and widths 16, 256, 1024.
"""

import time

import numpy as np

from npae import Adam, dense_autoencoder, plots
from npae.apps.walkthrough import Findings, load_data, parse_args, pick, save_figure, save_results


def split_train_validation(data, n_fit, rng):
    """The first ``n_fit`` of a random permutation of the training images for fitting, the rest for validation."""
    order = rng.permutation(len(data.x_train))
    return data.x_train[order[:n_fit]], data.x_train[order[n_fit:]]


def train(model, x_fit, x_val, epochs, seed, **fit_kwargs):
    return model.fit(x_fit, epochs=epochs, batch_size=100, validation_data=x_val, optimizer=Adam(1e-3),
                     seed=seed, verbose=0, **fit_kwargs)


def sweep(builders, x_fit, x_val, epochs, seed):
    """Train each ``{name: builder}`` model; returns ``{name: (model, history)}``, printing a line per model."""
    runs = {}
    for name, build in builders.items():
        start = time.perf_counter()
        model = build()
        h = train(model, x_fit, x_val, epochs, seed)
        runs[name] = (model, h)
        print(f"{name}: train {h['loss'][-1]:.5f}, validation {h['val_loss'][-1]:.5f} "
              f"(best {min(h['val_loss']):.5f}), {time.perf_counter() - start:.1f}s")
    return runs


def summarise(runs):
    """Final train, final validation and best validation error of each run, as lists in sweep order."""
    histories = {name: history for name, (_, history) in runs.items()}
    return {
        "final_train": [h["loss"][-1] for h in histories.values()],
        "final_validation": [h["val_loss"][-1] for h in histories.values()],
        "best_validation": [min(h["val_loss"]) for h in histories.values()],
        "best_epoch": [int(np.argmin(h["val_loss"])) + 1 for h in histories.values()],
    }


def sweep_figure(x, summary, xlabel, title):
    return plots.line_plot(
        x, {"train (final epoch)": summary["final_train"],
            "validation (final epoch)": summary["final_validation"],
            "validation (best epoch = early stopping)": summary["best_validation"]},
        xlabel=xlabel, ylabel="MSE per pixel", title=title, logx=True, logy=True,
    )


def check_findings(findings, codes, code_summary, widths, width_summary, test_mse):
    """The walkthrough's claims, each computed from this run's numbers."""
    train, best = code_summary["final_train"], code_summary["best_validation"]
    findings.check(
        "training_error_prefers_the_biggest_code", int(np.argmin(train)) == len(codes) - 1,
        f"the training error is lowest for the biggest code (k = {codes[-1]}: {train[-1]:.4f})",
    )
    chosen = codes[int(np.argmin(best))]
    findings.check(
        "validation_prefers_a_smaller_code", chosen < codes[-1],
        f"the validation error is lowest at code size {chosen} ({min(best):.4f}), not at the biggest "
        f"({codes[-1]}: {best[-1]:.4f})",
    )
    gap = [v / t for v, t in zip(code_summary["final_validation"], train)]
    findings.check(
        "gap_grows_with_capacity", gap[-1] > gap[0],
        f"the gap between validation and training error grows with the code size, from {gap[0]:.2f}x at "
        f"k = {codes[0]} to {gap[-1]:.2f}x at k = {codes[-1]}",
    )
    width_best = width_summary["best_validation"]
    chosen_width = widths[int(np.argmin(width_best))]
    findings.check(
        "validation_prefers_a_narrower_width", chosen_width < widths[-1],
        f"among hidden widths, {chosen_width} has the lowest validation error ({min(width_best):.4f}), not the "
        f"widest ({widths[-1]}: {width_best[-1]:.4f})",
    )
    findings.check(
        "early_stopping_lowers_the_test_error", test_mse["early stopping"] < test_mse["all epochs"],
        f"early stopping lowers the test error of the most overfitting run from {test_mse['all epochs']:.4f} to "
        f"{test_mse['early stopping']:.4f}",
    )


def early_stopping_figure(stopped, full, name, patience):
    """The all-epochs run underneath, the early-stopped run on top, the stop and the restored epoch marked."""
    fig = plots.training_curves(
        [full, stopped], [f"{name}, all epochs", f"{name}, early stopping"], ylabel="MSE per pixel", logy=True,
        title=f"early stopping (patience {patience}): stop when validation stops improving, keep the best epoch",
    )
    ax = fig.axes[0]
    ax.axvline(stopped.best_epoch + 1, color="k", linestyle=":", label=f"best epoch {stopped.best_epoch + 1} (restored)")
    ax.axvline(stopped.epochs, color="gray", linestyle="-.", label=f"stopped after epoch {stopped.epochs}")
    ax.legend(fontsize=7)
    return fig


def overfitting(history):
    """How far the validation error has risen above its minimum by the last epoch."""
    return history["val_loss"][-1] - min(history["val_loss"])


def main():
    args = parse_args(__doc__)
    rng = np.random.default_rng(args.seed)
    n_fit = pick(args, full=1000, short=1000, quick=500)
    data = load_data(args, n_train=pick(args, full=6000, short=3000, quick=1000),
                     n_test=pick(args, full=10000, short=10000, quick=300))
    x_fit, x_val = split_train_validation(data, n_fit, rng)
    epochs = pick(args, full=150, short=60, quick=2)
    codes = pick(args, full=[2, 4, 8, 16, 32, 64, 128], short=[2, 8, 32, 128], quick=[4, 32])
    widths = pick(args, full=[16, 64, 256, 1024], short=[16, 256, 1024], quick=[16, 64])
    patience = pick(args, full=10, short=5, quick=1)

    print(f"code size sweep on {len(x_fit)} images, {len(x_val)} for validation, {epochs} epochs each")
    builders = {f"code size {k}": (lambda k=k: dense_autoencoder(code_dim=k, seed=args.seed)) for k in codes}
    code_runs = sweep(builders, x_fit, x_val, epochs, args.seed)
    print("hidden width sweep")
    width_builders = {f"width {w}": (lambda w=w: dense_autoencoder(hidden=(w,), code_dim=32, seed=args.seed))
                      for w in widths}
    width_runs = sweep(width_builders, x_fit, x_val, epochs, args.seed)
    builders.update(width_builders)
    code_summary, width_summary = summarise(code_runs), summarise(width_runs)

    runs = {**code_runs, **width_runs}
    most_overfit = max(runs, key=lambda name: overfitting(runs[name][1]))
    best = min(runs, key=lambda name: min(runs[name][1]["val_loss"]))
    roles = {most_overfit: "most overfitting"}
    roles[best] = f"{roles[best]}, best validation" if best in roles else "best validation"
    shown = {f"{name} ({role})": runs[name][1] for name, role in roles.items()}
    save_figure(plots.training_curves(
        list(shown.values()), list(shown), ylabel="MSE per pixel", logy=True,
        title="train (solid) vs validation (dashed) error per epoch",
    ), args.out, "overfitting_curves")

    print(f"{most_overfit} again, with early stopping (patience {patience})")
    stopped_model = builders[most_overfit]()
    stopped = train(stopped_model, x_fit, x_val, epochs, args.seed, patience=patience)
    full_model, full_history = runs[most_overfit]  # the same model trained for all the epochs, same seed
    test_mse = {"early stopping": stopped_model.evaluate(data.x_test)["loss"],
                "all epochs": full_model.evaluate(data.x_test)["loss"]}

    findings = Findings()
    check_findings(findings, codes, code_summary, widths, width_summary, test_mse)
    save_figure(sweep_figure(codes, code_summary, "code size k (784-256-128-k)", findings.title(
        f"capacity 1: code size, {n_fit} training images, {epochs} epochs",
        "validation_prefers_a_smaller_code", "gap_grows_with_capacity")), args.out, "code_size_sweep")
    save_figure(sweep_figure(widths, width_summary, "hidden width w (784-w-32)", findings.title(
        f"capacity 2: hidden width, {n_fit} training images, {epochs} epochs",
        "validation_prefers_a_narrower_width")), args.out, "width_sweep")
    save_figure(early_stopping_figure(stopped, full_history, most_overfit, patience), args.out, "early_stopping")

    save_results(args.out, {
        "data": str(data),
        "n_fit": len(x_fit),
        "n_validation": len(x_val),
        "epochs": epochs,
        "best_code_size_by_validation": codes[int(np.argmin(code_summary["best_validation"]))],
        "best_width_by_validation": widths[int(np.argmin(width_summary["best_validation"]))],
        "best_run_by_validation": best,
        "most_overfitting_run": most_overfit,
        "early_stopping_epoch": stopped.best_epoch + 1,
        "early_stopping_epochs_run": stopped.epochs,
        "test_mse_with_early_stopping": test_mse["early stopping"],
        "test_mse_without_early_stopping": test_mse["all epochs"],
        "code_sizes": codes,
        "code_size_sweep": code_summary,
        "widths": widths,
        "width_sweep": width_summary,
    }, findings)


if __name__ == "__main__":
    main()
