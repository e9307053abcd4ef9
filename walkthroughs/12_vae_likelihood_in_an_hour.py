"""12 - How good can a VAE get in an hour: the importance-weighted bound, a schedule, and the IWAE.

Walkthrough 08 scored its VAE in nats: the importance-weighted estimate of log p(x) on the binarised test
images, -90.5 after 30 epochs. The published figure for a VAE of this kind (one stochastic layer, MLP
encoder and decoder, dynamically binarised MNIST) is -86.76 nats, and -84.78 for the importance-weighted
autoencoder with k = 50 (Burda, Grosse & Salakhutdinov 2016), both after 3,280 epochs on a GPU. How close
does an hour of training on a 2-core CPU come, and what does each ingredient buy?

The bound, and the objective built on it
----------------------------------------
For k codes drawn from the encoder's posterior, ``z_i ~ q(z | x)``, the importance weights
``w_i = p(x, z_i) / q(z_i | x)`` average to p(x), so

    L_k = log (1/k) sum_i w_i   <=   log p(x)          (in expectation over the draws)

``L_1`` is the ELBO, and ``L_k`` rises towards log p(x) as k grows. We report ``L_1000`` (and ``L_5000`` at
the end) averaged over the 10,000 test images, binarised once with a fixed seed and never used for training
or for choosing anything. The VAE trains on the ELBO; the IWAE trains on ``L_k`` itself. Its gradient is the
VAE's gradient for each draw, weighted by the draw's normalised weight ``w_i / sum_j w_j``: a draw that
explains x badly barely counts, so the encoder is no longer punished for spreading its posterior over codes
some of which explain x poorly, and the decoder learns from the draws that explain x well
(``VAE.importance_weighted_loss`` derives it). The price: the decoder runs on k codes per image.

Four recipes, one network (784-512-256-(mu, logvar) 32 and 32-256-512-784, ReLU, Bernoulli pixels, 1.09
million parameters; Adam, learning rate 1e-3, batch 100, dynamic binarisation), each trained for about the
same time:

- (a) **plain**: the VAE at a constant learning rate, the recipe of walkthrough 08;
- (b) **schedule**: the VAE with the learning rate annealed to 0 along a cosine over the run
  (``CosineDecay``; ``StagedDecay`` is the paper's staircase) and KL warm-up (the weight of the KL term grows
  from 0 to 1 over the first 10% of the epochs, so that the code is put to use before it is priced);
- (c) **IWAE k = 5** and **IWAE k = 50**: recipe (b) with the importance-weighted objective, fewer epochs for
  the same time (during warm-up, beta tempers ``log p(z) - log q(z|x)`` inside each weight).

While training, ``HeldOutBound`` scores 1,000 held-out training images (taken out of the 60,000, never
trained on) with ``L_50`` every few epochs, at about 1% of the training time: that curve, not the test
set, is what one watches and chooses by (the samples below come from the recipe with the best held-out
``L_1000``). The test bound is computed after training from snapshots taken at a third, two thirds and the
end of each run.

Running it
----------
The full run takes about three and a quarter hours of training (four recipes of about 48 minutes; the epochs
of each were fixed from its measured time per epoch on the 2-core development machine, alone: 7.6 s for the
VAE, 16.6 s for the IWAE with k = 5, 115 s with k = 50, so that the runs are reproducible from the seed) and
then the test bounds (``L_1000`` at three snapshots and ``L_5000`` of the final model: about 12 minutes per
recipe). Each recipe is checkpointed; ``--recipe NAME`` trains that one only and stops, so that the four runs
can go one at a time; a run without ``--recipe`` trains what is missing, then evaluates (caching every test
score in ``out/<recipe>/scores.json``) and draws the figures; ``--trained-only`` evaluates and draws the
recipes that have finished, and checks only the findings their numbers can show. ``--minutes M`` is the same
comparison at a smaller budget: each recipe's epochs scaled by M / 48, all training images, the test bound on
2,000 test images (``L_100`` at the snapshots, ``L_1000`` at the end), in ``out/<script name>_<M>min``.
``--short`` (about three minutes) trains the four recipes on 10,000 images for a few epochs and scores 1,000
test images with ``L_100``.

The figures: ``bound_vs_minutes`` (the test ``L_1000`` of each recipe against its training minutes, beside
the published figures), ``held_out_curves`` (the held-out ``L_50`` while training, and how far it lies above
the ELBO), ``elbo_gap`` (test ELBO and ``L_1000`` of each final model, and the gap between them),
``schedule`` (learning rate and KL weight of recipe (b) by epoch) and ``samples`` (from the best model).

What the runs gave
------------------
All with seed 0 on the shared 2-core development machine, with the 1,091,920-parameter network above.

*Full size*, recipes (a), (b) and (c) with k = 5 (``--recipe plain``, ``--recipe schedule``, ``--recipe
iwae5``, then ``--trained-only``), scored on all 10,000 test images; minutes are the training time each run
printed (recipe (b) was timed while other jobs shared the machine, alone its 380 epochs take about 48 minutes;
recipe (a) lost about 3.5 minutes to a test run that shared the machine for three epochs):

    recipe                        epochs  minutes   test L_1000 at 1/3, 2/3, end   L_5000   ELBO    gap  active
    (a) VAE, constant rate           380     46.7   -88.08   -87.18   -86.92        -86.63  -92.79  5.87     21
    (b) VAE, cosine + warm-up        380     52.4   -88.16   -86.62   -86.11        -85.89  -90.55  4.45     25
    (c) IWAE k = 5, as (b)           175     46.9   -88.31   -86.31   -85.75        -85.47  -93.06  7.32     29

(snapshot minutes: (a) 18.0, 32.2, 46.7; (b) 17.5, 34.8, 52.4; (c) 16.5, 32.7, 46.9). The schedule and
warm-up are worth 0.7 nats over the constant rate at the end (they were behind at six minutes), and use four
more latent dimensions. All three meet the -86.8 target and pass the published VAE's -86.76 (an ``L_5000`` after 3,280 epochs on a GPU); the IWAE is 0.42 nats better than the VAE
in less training time, and ahead from the second snapshot on. It is still 0.7 nats short of the published
IWAE (k = 50: -84.78). Its encoder is trained as a proposal for five draws, and a single draw scores it poorly:
its ELBO is 2.5 nats below the VAE's and the ELBO-to-bound gap is wider (7.32 against 4.45 nats), while the
VAE's gap shrinks as it trains (the held-out curves). The held-out bound chose the IWAE too (held-out
``L_1000`` -86.21 against -86.56), so its samples are drawn. Figures looked at: all five.

*``--minutes 6``*, all four recipes, each timed with the machine to itself, run before the epochs were
recalibrated (then 380, 380, 160 and 20 for 55 minutes, scaled to 41, 41, 17 and 2; now 48, 48, 22 and 3): the
IWAE recipes trained 10-27% less time than the VAE ones.
Test figures on 2,000 test images; held-out ``L_100`` on the 1,000 held-out training images:

    recipe                          epochs  minutes  test L_1000  test ELBO  L_1000 - ELBO  active  held-out L_100
    (a) VAE, constant rate              41      5.1       -89.23     -95.66           6.44      24          -91.08
    (b) VAE, cosine rate + warm-up      41      5.2       -89.53     -95.16           5.63      32          -91.29
    (c) IWAE k = 5                      17      4.7       -90.87    -100.43           9.57      32          -92.97
    (c) IWAE k = 50                      2      3.8      -101.18    -122.01          20.82      32         -104.66

At six minutes the IWAE does not beat the VAE: an epoch costs 2.2 (k = 5) and 15 (k = 50) times the VAE's,
and a few epochs of it do not make up for that; after 45 minutes, k = 5 does. The constant rate edged out the
cosine schedule at this budget, but left 8 latent dimensions unused.

Not run at full size: recipe (c) with k = 50 (25 epochs, about 48 minutes).
"""

import json
import pathlib
from dataclasses import dataclass

import numpy as np

import npae
from npae import Adam, CosineDecay, HeldOutBound, plots
from npae.datasets import binarize
from npae.models.zoo import mlp_vae
from npae.apps.walkthrough import Findings, load_data, parse_args, pick, resume_options, save_figure, save_results

TEST_BINARIZATION_SEED = 2014
HELD_OUT_BINARIZATION_SEED = 2016
HIDDEN, LATENT, BATCH, LEARNING_RATE = (512, 256), 32, 100, 1e-3
WARMUP_FRACTION = 0.1
#: Burda et al. (2016), Table 1: one stochastic layer, dynamically binarised MNIST, test L_5000 (nats)
PUBLISHED = {"VAE": -86.76, "IWAE (k = 50)": -84.78}
TARGET = -86.8
#: the training minutes per recipe that the full run's epochs were fixed for
FULL_RUN_MINUTES = 48
#: test images scored in a ``--minutes`` run (a random subset, binarised once like the whole test set)
BUDGET_TEST_IMAGES = 2000


@dataclass(frozen=True)
class Recipe:
    name: str
    label: str
    objective: str
    k: int
    annealed: bool
    epochs: int  # of the full run: about 48 minutes alone on the 2-core development machine
    short_epochs: int
    quick_epochs: int

    def epochs_for(self, args):
        """This recipe's epochs for the run's size; with ``--minutes M``, the full run's scaled by M / 48."""
        if args.minutes is not None:
            return max(1, round(self.epochs * args.minutes / FULL_RUN_MINUTES))
        return pick(args, full=self.epochs, short=self.short_epochs, quick=self.quick_epochs)

    def build(self, args, epochs):
        """The network with this recipe's objective and warm-up, initialised from the seed."""
        warmup = round(WARMUP_FRACTION * epochs) if self.annealed else 0
        return mlp_vae(hidden=HIDDEN, latent_dim=LATENT, binarize=True, objective=self.objective, k=self.k,
                       warmup_epochs=warmup, seed=args.seed)

    def optimizer(self, epochs):
        return Adam(LEARNING_RATE, schedule=CosineDecay(epochs) if self.annealed else None)


RECIPES = [
    Recipe("plain", "(a) VAE, constant rate", "elbo", 1, False, 380, 14, 2),
    Recipe("schedule", "(b) VAE, cosine rate + KL warm-up", "elbo", 1, True, 380, 14, 2),
    Recipe("iwae5", "(c) IWAE k = 5, as (b)", "iwae", 5, True, 175, 6, 1),
    Recipe("iwae50", "(c) IWAE k = 50, as (b)", "iwae", 50, True, 25, 1, 1),
]


def sample_counts(args):
    """k of the held-out curve, of the test bound at the snapshots, and of the final test bound."""
    if args.minutes is not None:
        return 50, 100, 1000
    return (pick(args, full=50, short=20, quick=5), pick(args, full=1000, short=100, quick=10),
            pick(args, full=5000, short=200, quick=20))


def add_recipe_argument(parser):
    parser.add_argument("--recipe", choices=[r.name for r in RECIPES], default=None,
                        help="train this recipe only (resuming from its checkpoint) and stop, without evaluating")
    parser.add_argument("--minutes", type=float, default=None,
                        help=f"train each recipe for about this many minutes instead of {FULL_RUN_MINUTES} (the full "
                             "run's epochs scaled down, all training images) and score "
                             f"{BUDGET_TEST_IMAGES:,} test images (default folder out/<script name>_<M>min)")
    parser.add_argument("--trained-only", action="store_true",
                        help="train nothing: evaluate and draw the recipes whose run has finished (its last snapshot "
                             "is saved), leaving out the others and the findings that need them")


def split_held_out(args, data):
    """Training images, and the held-out ones (binarised once) that HeldOutBound watches."""
    n = pick(args, full=1000, short=500, quick=100)
    order = np.random.default_rng(args.seed).permutation(len(data.x_train))
    held_out = binarize(data.x_train[order[:n]], np.random.default_rng(HELD_OUT_BINARIZATION_SEED))
    return data.x_train[np.sort(order[n:])], held_out


def present(records):
    """The recipes of ``records``, in the walkthrough's order."""
    return [r for r in RECIPES if r.name in records]


def finished(args, recipe):
    """Whether ``recipe``'s run at this size has saved its last snapshot."""
    epochs = recipe.epochs_for(args)
    return (args.out / recipe.name / f"epoch{epochs}.npz").exists()


def snapshot_epochs(epochs):
    """Epochs after which the model is saved for the test bound: a third, two thirds and the end of the run."""
    return sorted({max(1, round(epochs / 3)), max(1, round(2 * epochs / 3)), epochs})


def save_snapshots(paths):
    """A fit callback saving the model after each epoch in ``paths`` ({epoch: file})."""
    def callback(model, epoch, logs):
        if epoch + 1 in paths:
            model.save(paths[epoch + 1])
    return callback


def train(recipe, args, x_train, held_out):
    """Train one recipe (resuming a full run from its checkpoint); returns its record and the final model."""
    epochs = recipe.epochs_for(args)
    folder = args.out / recipe.name
    folder.mkdir(parents=True, exist_ok=True)
    model = recipe.build(args, epochs)
    monitor = HeldOutBound(held_out, every=max(1, epochs // 20), k=sample_counts(args)[0], n=None,
                           seed=args.seed, path=folder / "held_out.json" if args.size == "full" else None)
    snapshots = {e: folder / f"epoch{e}.npz" for e in snapshot_epochs(epochs)}
    print(f"{recipe.label}: {epochs} epochs, {model.num_parameters()} parameters", flush=True)
    history = model.fit(x_train, epochs=epochs, batch_size=BATCH, optimizer=recipe.optimizer(epochs),
                        seed=args.seed, verbose=1 if args.size == "full" else 0,
                        callbacks=[monitor, save_snapshots(snapshots)], **resume_options(args, recipe.name))
    minutes = np.cumsum(history["epoch_time"]) / 60
    print(f"{recipe.label}: trained {history.epochs} epochs in {minutes[-1]:.1f} minutes "
          f"(held-out evaluations {monitor.seconds / 60:.1f} minutes more)", flush=True)
    return {
        "epochs": history.epochs, "parameters": model.num_parameters(), "warmup_epochs": model.warmup_epochs,
        "train_minutes": float(minutes[-1]), "monitor_minutes": monitor.seconds / 60,
        "minutes_at_epoch": {e: float(minutes[e - 1]) for e in snapshots}, "held_out": monitor.records,
        "history": history, "snapshots": snapshots, "monitor": monitor,
    }, model


def cached(args, recipe, key, compute):
    """``compute()`` (a dict of floats), or its value from an earlier run in out/<recipe>/scores.json."""
    cache = args.out / recipe.name / "scores.json"
    scores = json.loads(cache.read_text()) if cache.exists() else {}
    key = f"{key}_seed{args.seed}"
    if key not in scores:
        print(f"{recipe.label}: {key} ...", flush=True)
        scores[key] = compute()
        print(f"  {scores[key]}", flush=True)
        if args.size == "full":
            cache.write_text(json.dumps(scores, indent=1))
    return scores[key]


def test_scores(args, path, x_test, k):
    """Test ELBO (one z per image) and L_k of a saved model, mean nats per image."""
    model = npae.load(path)
    return {"elbo": float(model.elbo(x_test, seed=args.seed).mean(dtype=np.float64)),
            "iw_bound": float(model.log_likelihood(x_test, k=k, seed=args.seed).mean(dtype=np.float64))}


def evaluate(args, recipe, record, model, x_test):
    """The test bound at every snapshot (L_1000); for the final model L_5000, the held-out L_1000 (by which
    the best model is chosen) and the number of active latent dimensions."""
    _, k, k_final = sample_counts(args)
    record["test"] = {
        e: {"minutes": record["minutes_at_epoch"][e],
            **cached(args, recipe, f"epoch{e}_k{k}", lambda path=path: test_scores(args, path, x_test, k))}
        for e, path in record["snapshots"].items()
    }
    final = record["test"][record["epochs"]]
    last = record["snapshots"][record["epochs"]]
    record["final"] = {
        "elbo": final["elbo"], f"iw_bound_k{k}": final["iw_bound"], "gap": final["iw_bound"] - final["elbo"],
        f"iw_bound_k{k_final}": cached(args, recipe, f"epoch{record['epochs']}_k{k_final}",
                                       lambda: test_scores(args, last, x_test, k_final))["iw_bound"],
        "active_units": model.active_units(x_test),
    }
    record["held_out_full_bound"] = cached(args, recipe, f"held_out_k{k}", lambda: {
        "iw_bound": record["monitor"].full_bound(model, k=k)})["iw_bound"]
    return record


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def bound_vs_minutes_figure(records, k, n_test, findings):
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(10.5, 4.6))
    for i, recipe in enumerate(present(records)):
        test = records[recipe.name]["test"]
        epochs = sorted(test)
        ax.plot([test[e]["minutes"] for e in epochs], [test[e]["iw_bound"] for e in epochs], "o-", color=f"C{i}",
                label=f"{recipe.label} ({records[recipe.name]['epochs']} epochs)")
    for (name, value), style in zip(PUBLISHED.items(), ("--", ":")):
        ax.axhline(value, color="gray", linestyle=style, linewidth=1,
                   label=f"published {name}: test L_5000 = {value} (3,280 epochs on a GPU)")
    ax.set_xlabel("training time (minutes on 2 cores)")
    ax.set_ylabel(f"test L_{k} (nats per image, higher is better)")
    ax.set_title(findings.title(f"importance-weighted bound L_{k} on {n_test:,} binarised test images\n"
                                "at a third, two thirds and the end of each run",
                                *findings.checked("target_met", "iwae_beats_vae")),
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    fig.tight_layout()
    return fig


def axis_floor(curves, margin=2.0):
    """A lower y limit for curves of a bound that start far below where they settle (the first epochs of
    warm-up): each curve's values from its second point on (all of a curve of two points), less ``margin``."""
    return min(min(values[1:] if len(values) > 2 else values) for values in curves) - margin


def held_out_figure(records, k, n_held_out):
    plt = plots.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, recipe in enumerate(present(records)):
        record = records[recipe.name]
        minutes = np.cumsum(record["history"]["epoch_time"]) / 60
        epochs = [r["epoch"] for r in record["held_out"]]
        at = [minutes[e - 1] for e in epochs]
        left.plot(at, [r["iw_bound"] for r in record["held_out"]], ".-", color=f"C{i}", label=recipe.label)
        right.plot(at, [r["gap"] for r in record["held_out"]], ".-", color=f"C{i}", label=recipe.label)
    curves = [[r["iw_bound"] for r in records[recipe.name]["held_out"]] for recipe in present(records)]
    floor = axis_floor(curves)
    cut = "" if min(min(c) for c in curves) >= floor else "\n(the first points of some runs lie below the axis)"
    left.set_ylim(bottom=floor)
    left.set_ylabel(f"held-out L_{k} (nats per image)")
    left.set_title(f"held-out bound L_{k} while training ({n_held_out:,} training images kept out){cut}",
                   fontsize=10)
    right.set_ylabel(f"L_{k} - ELBO (nats per image)")
    right.set_title("how far the bound rises above the ELBO on the same images", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("training time (minutes on 2 cores)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gap_figure(records, k, findings):
    """Each final model's test ELBO and L_k, joined by a line whose length is the gap between them."""
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    recipes = present(records)
    for i, recipe in enumerate(recipes):
        elbo, bound = records[recipe.name]["final"]["elbo"], records[recipe.name]["final"][f"iw_bound_k{k}"]
        ax.plot([i, i], [elbo, bound], "-", color="gray", linewidth=1)
        ax.plot(i, elbo, "o", color="C1", label="ELBO (one z per image)" if i == 0 else None)
        ax.plot(i, bound, "s", color="C0", label=f"L_{k}" if i == 0 else None)
        ax.annotate(f"gap {bound - elbo:.2f}", (i, (elbo + bound) / 2), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_xticks(range(len(recipes)), [r.label.replace(", ", ",\n", 1) for r in recipes], fontsize=7.5)
    ax.set_xlim(-0.5, len(recipes) - 0.3)
    ax.grid(alpha=0.3, axis="y")
    ax.set_ylabel("mean over the test images (nats per image)")
    ax.set_title(findings.title(f"test ELBO and L_{k} of each final model", *findings.checked("iwae_widens_gap")),
                 fontsize=10)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def schedule_figure(recipe, args, epochs):
    model, optimizer = recipe.build(args, epochs), recipe.optimizer(epochs)
    rates, betas = [], []
    for epoch in range(epochs):
        optimizer.start_epoch(epoch)
        rates.append(optimizer.lr / LEARNING_RATE)
        betas.append(model.beta_at(epoch))
    return plots.line_plot(np.arange(1, epochs + 1), {"learning rate / 1e-3 (cosine)": rates,
                                                       "weight of the KL term (warm-up)": betas},
                           xlabel="epoch", ylabel="learning rate / 1e-3; KL weight",
                           title=f"recipe {recipe.label}: learning rate and KL weight by epoch")


def check_findings(records, k_final):
    """The walkthrough's findings, each checked only when the recipes it compares are in ``records``."""
    findings = Findings()
    final = {name: record["final"][f"iw_bound_k{k_final}"] for name, record in records.items()}
    in_time = [name for name in final if records[name]["train_minutes"] <= 60]
    best = max(in_time, key=final.get, default=None)
    findings.check("target_met", best is not None and final[best] >= TARGET,
                   f"a model reaches {final[best]:.2f} >= {TARGET} nats (L_{k_final}) in "
                   f"{records[best]['train_minutes']:.0f} minutes of training" if best else "no run within 60 minutes")
    vae = [final[n] for n in ("plain", "schedule") if n in final]
    iwae = [final[n] for n in ("iwae5", "iwae50") if n in final]
    if vae and iwae:
        findings.check("iwae_beats_vae", max(iwae) > max(vae), f"at equal training time the IWAE beats the VAE "
                       f"({max(iwae):.2f} vs {max(vae):.2f} nats, L_{k_final})")
    gaps = {name: record["final"]["gap"] for name, record in records.items()}
    if "schedule" in gaps and ("iwae5" in gaps or "iwae50" in gaps):
        iwae_gaps = {n: gaps[n] for n in ("iwae5", "iwae50") if n in gaps}
        findings.check("iwae_widens_gap", all(g > gaps["schedule"] for g in iwae_gaps.values()),
                       "the IWAE's ELBO lies further below its bound than the VAE's ("
                       + ", ".join(f"{g:.2f} nats for k = {n[4:]}" for n, g in iwae_gaps.items())
                       + f", {gaps['schedule']:.2f} for the VAE (b))")
    if "plain" in final and "schedule" in final:
        findings.check("schedule_helps", final["schedule"] > final["plain"],
                       "the schedule and warm-up beat the constant rate in the same time")
    return findings


def budget_run(args):
    """Check ``--minutes`` and give a budget run its own default folder, so that it never resumes from (or
    overwrites) the checkpoints of the full run or of a run with another budget."""
    if args.minutes is None:
        return
    if args.size != "full" or not args.minutes > 0:
        raise SystemExit(f"--minutes: expected a positive number of minutes without --short or --quick, got "
                         f"{args.minutes} with the {args.size} size; drop --short/--quick")
    full_run_folder = pathlib.Path(__file__).resolve().parent / "out" / pathlib.Path(__file__).stem
    if args.out.resolve() == full_run_folder:
        args.out = full_run_folder.with_name(f"{full_run_folder.name}_{args.minutes:g}min")
        args.out.mkdir(parents=True, exist_ok=True)


def main():
    args = parse_args(__doc__, add_arguments=add_recipe_argument)
    budget_run(args)
    data = load_data(args, n_train=pick(args, full=None, short=10000, quick=None),
                     n_test=BUDGET_TEST_IMAGES if args.minutes else pick(args, full=None, short=1000, quick=None))
    x_train, held_out = split_held_out(args, data)
    recipes = [r for r in RECIPES if args.recipe in (None, r.name)]
    if args.trained_only:
        recipes = [r for r in recipes if finished(args, r)]
        if not recipes:
            raise SystemExit(f"--trained-only: no recipe has finished its run in {args.out}; train one with --recipe")
        print("evaluating the finished recipes:", ", ".join(r.name for r in recipes), flush=True)
    trained = {r.name: train(r, args, x_train, held_out) for r in recipes}
    if args.recipe is not None:
        print(f"trained {args.recipe}; run without --recipe to evaluate all recipes and draw the figures")
        return
    x_test = binarize(data.x_test, np.random.default_rng(TEST_BINARIZATION_SEED))
    records = {r.name: evaluate(args, r, *trained[r.name], x_test) for r in recipes}
    k_held_out, k, k_final = sample_counts(args)
    findings = check_findings(records, k_final)
    best = max(present(records), key=lambda r: records[r.name]["held_out_full_bound"])

    save_figure(bound_vs_minutes_figure(records, k, len(x_test), findings), args.out, "bound_vs_minutes")
    save_figure(held_out_figure(records, k_held_out, len(held_out)), args.out,
                "held_out_curves")
    save_figure(gap_figure(records, k, findings), args.out, "elbo_gap")
    schedule = next(r for r in RECIPES if r.name == "schedule")
    if schedule.name in records:
        save_figure(schedule_figure(schedule, args, schedule.epochs_for(args)), args.out, "schedule")
    best_model = trained[best.name][1]
    save_figure(plots.image_grid(
        best_model.sample(100, seed=args.seed), nrows=10,
        title=f"100 samples of recipe {best.label} (best held-out bound): pixel probabilities, z ~ N(0, I)",
    ), args.out, "samples")
    save_results(args.out, {
        "data": str(data),
        "units": "nats per image (summed over the 784 pixels), mean over the binarised test images",
        "best_by_held_out_bound": best.name,
        "published": PUBLISHED,
        "recipes": {r.name: {"label": r.label, **{key: value for key, value in records[r.name].items()
                                                   if key not in ("history", "snapshots", "monitor")}}
                    for r in recipes},
    }, findings)


if __name__ == "__main__":
    main()
