"""11 - Natural-image patches: a sparse autoencoder learns localized, oriented edge detectors; PCA does not.

The sparse autoencoder's best-known result (Andrew Ng's UFLDL sparse-autoencoder exercise, after Olshausen &
Field 1996): trained on small patches of photographs, with each hidden unit asked to fire rarely, its units
become detectors of edges: each looks at a small part of the patch, for a light-dark boundary at one
orientation and position, like the simple cells of the visual cortex. PCA on the same patches finds
something else: its components are global waves (smooth gradients, then gratings of rising frequency)
spread over the whole patch, the Fourier-like basis of any data whose statistics do not depend on position.

The recipe, UFLDL's:

- 10,000 patches of 8x8 pixels at random places in grey photographs (each photograph equally likely);
- each patch's mean removed (its brightness), then ZCA whitening (``npae.datasets.ZCA``): in photographs,
  nearby pixels are strongly correlated, and most of the variance sits in smooth variations of brightness.
  Whitening divides every principal direction by its standard deviation, so edges weigh as much as gradients.
  UFLDL's photographs came whitened; we whiten the patches, with ``EPSILON`` added to every variance so the
  directions of tiny variance (pixel noise, JPEG blocks) are not blown up, which also smooths a little;
- UFLDL's ``normalizeData``: values clipped at +-3 standard deviations and mapped onto [0.1, 0.9], the range
  of the sigmoid outputs;
- a 64-25-64 network of sigmoid units, trained on ``J = 1/N sum_n 1/2 |x_hat_n - x_n|^2 + lambda/2 sum W^2 +
  beta sum_j KL(rho || rho_hat_j)`` with rho = 0.01 (each unit active on about 1% of the patches), beta = 3
  and lambda = 1e-4. As in walkthrough 04, npae's ``MSE(reduction="sum")`` lacks the 1/2, so we train 2J with
  ``WeightDecay(2 lambda)`` and ``KLSparsity(rho, 2 beta)``;
- UFLDL's optimiser: 400 iterations of L-BFGS on the whole batch (so rho_hat is the mean over all patches).
  ``lbfgs`` below is a short version of it (two-loop recursion, backtracking line search). The optimiser
  matters here: Adam on the whole batch, from the same start, settles in a worse minimum of the same J, whose
  units respond weakly to every patch and whose filters look like noise (walkthroughs/README.md has the
  numbers); L-BFGS, which follows the curvature, finds the units that fire rarely and strongly, on edges.

A filter is the vector of weights into one hidden unit, drawn as an 8x8 image (gray = 0). We show what each
unit computes from the raw patch: a unit sees ``W^T x_white = (ZCA W)^T x``, so its filter in pixel space is
``ZCA W`` (the ZCA matrix is symmetric). Every grey patch has had its mean removed, so the mean of a grey
filter adds the same amount to every patch (it acts as a bias): we draw and measure each grey filter minus
its mean. How localized is a filter? Its **energy share**: the fraction of the
filter's energy (sum of squared weights) in its strongest 8 of 64 pixels. Spread evenly, a filter has 8/64 =
0.125; a filter living on a few pixels approaches 1. We also report each filter's spatial spread (the
energy-weighted standard deviation of pixel positions around the filter's centre, in pixels; an even spread
over 8x8 gives 3.2). Both are read against filters of random Gaussian weights (``noise_baseline``), which
have no structure but, by chance, a few strong pixels: their median share is 0.49 in grey. An edge across
the whole patch is oriented without being small, so these numbers separate the two sets of filters less
than the pictures do.

The colour version, from UFLDL's linear-decoder exercise: 8x8x3 patches of the colour photographs (192
values), the mean patch removed and ZCA whitening, then 192-``COLOUR_HIDDEN``-192 with sigmoid hidden units
and a **linear** output (whitened values are not confined to [0, 1], so a sigmoid output could not reach
them), rho = 0.035, beta = 5, lambda = 3e-3 (UFLDL used 100,000 patches of many photographs; we have
20,000 from six).

Figures: ``patches`` (raw patches and the network's input), ``filters_sparse_vs_pca`` (25 sparse-autoencoder
filters beside PCA's first 25 components), ``localization`` (energy shares of both), ``colour_filters``
(colour filters beside colour PCA components).

The photographs: ``--images DIR``, any folder of photographs (searched recursively; a few hundred pixels a
side or more), default ``$NPAE_DATA_DIR/images/natural``. Without photographs, a full or ``--short`` run says
how to point it at some and stops; a ``--quick`` run (which checks the script, not the finding) uses
synthetic dead-leaves images (``npae.datasets.dead_leaves``) and says so.

Full run (10,000 grey and 20,000 colour patches from the 13 public-domain and CC0 photographs of the
development data; the numbers are in walkthroughs/README.md): the grey sparse autoencoder's filters are
oriented bars and edges, most of them light-dark boundaries at one angle, a few noisy checkerboards; PCA's
components are the expected global waves, gratings of rising frequency. The sparse filters' energy sits
closer to a centre (median spread 3.0 pixels against PCA's 3.4 and random weights' 3.2). Their energy share
(0.44 against PCA's 0.40) does not show them localized: filters of random weights reach 0.49 by chance, so
the run does not state that finding for grey patches. The colour filters are rougher: many are small spots of a few strong pixels on a noisy
ground, some are smooth two-colour (magenta-green) blends; PCA's colour components are again global
waves. Their median share is 0.49 against PCA's 0.38 and random weights' 0.33.

Run ``python walkthroughs/11_natural_image_patches.py --images DIR`` (``--quick`` for a seconds-long check).
"""

import os
import pathlib
import sys
import time

import numpy as np

from npae import plots
from npae.apps.walkthrough import Findings, parse_args, pick, save_figure, save_results
from npae.core.layers import Dense, Sequential, Sigmoid
from npae.core.losses import MSE
from npae.core.penalties import KLSparsity, WeightDecay
from npae.datasets import ZCA, dead_leaves, extract_patches, load_images, normalize_patches, remove_patch_mean
from npae.models import PCA, Autoencoder

PATCH = 8
HIDDEN, RHO, BETA, LAMBDA = 25, 0.01, 3.0, 1e-4
COLOUR_HIDDEN, COLOUR_RHO, COLOUR_BETA, COLOUR_LAMBDA = 100, 0.035, 5.0, 3e-3
EPSILON = 0.01  # ZCA's epsilon for pixels in [0, 1]: about the mean variance of a principal direction
STRONGEST = 8  # pixels counted in a filter's energy share


def add_images_option(parser):
    parser.add_argument("--images", type=pathlib.Path, default=None,
                        help="folder of photographs (default: $NPAE_DATA_DIR/images/natural)")


def photograph_folder(args):
    if args.images is not None:
        return args.images
    root = os.environ.get("NPAE_DATA_DIR")
    return pathlib.Path(root) / "images" / "natural" if root else None


def is_colour(image, tolerance=2 / 255):
    """True unless the three channels are (nearly) equal: a grey photograph saved as RGB is grey."""
    return bool(np.abs(image[0] - image[1]).max() > tolerance or np.abs(image[1] - image[2]).max() > tolerance)


def photographs(args):
    """``(grey images, colour images, source)``: the photographs at their own sizes, or dead leaves (quick)."""
    folder = photograph_folder(args)
    if folder is not None and folder.is_dir():
        grey = load_images(folder, size=None, mode="L").images
        colour = [image for image in load_images(folder, size=None, mode="RGB").images if is_colour(image)]
        return grey, colour, f"{len(grey)} photographs ({len(colour)} in colour) from {folder}"
    where = f"no folder {folder}" if folder is not None else "NPAE_DATA_DIR is not set"
    advice = (f"walkthrough 11 needs photographs ({where}): pass --images DIR, a folder of photographs (PNG, JPEG, "
              "...; a few hundred pixels a side or more), or set NPAE_DATA_DIR to a folder holding images/natural/")
    if not args.quick:
        print(advice, file=sys.stderr)
        sys.exit(2)
    print(f"{advice}. This --quick run checks the script on synthetic dead-leaves images instead.")
    grey = list(dead_leaves(4, size=(96, 96), channels=1, seed=args.seed))
    colour = list(dead_leaves(4, size=(96, 96), channels=3, seed=args.seed))
    return grey, colour, "synthetic dead-leaves images (no photographs were found)"


# ----------------------------------------------------------------------------------------------
# Measuring filters
# ----------------------------------------------------------------------------------------------


def energy_share(filters, strongest=STRONGEST):
    """Per filter (a column of ``filters``, (D, units)): the share of its energy in its ``strongest`` pixels.

    A colour filter's pixel holds the energy of its three channels."""
    energy = filters**2
    if energy.shape[0] == 3 * PATCH * PATCH:
        energy = energy.reshape(3, PATCH * PATCH, -1).sum(axis=0)
    energy = energy / energy.sum(axis=0, keepdims=True)
    return np.sort(energy, axis=0)[::-1][:strongest].sum(axis=0)


def spatial_spread(filters):
    """Per filter: the energy-weighted standard deviation of its pixel positions around its centre, in pixels."""
    energy = filters**2
    if energy.shape[0] == 3 * PATCH * PATCH:
        energy = energy.reshape(3, PATCH * PATCH, -1).sum(axis=0)
    weights = energy / energy.sum(axis=0, keepdims=True)
    rows, cols = np.divmod(np.arange(PATCH * PATCH), PATCH)
    centre_r, centre_c = rows @ weights, cols @ weights
    squared_distance = (rows[:, None] - centre_r) ** 2 + (cols[:, None] - centre_c) ** 2
    return np.sqrt((squared_distance * weights).sum(axis=0))


# ----------------------------------------------------------------------------------------------
# The two experiments
# ----------------------------------------------------------------------------------------------


def sparse_autoencoder(n_in, hidden, rho, beta, lam, linear_output, seed):
    """``n_in``-``hidden``-``n_in`` with sigmoid hidden units; trains 2J (see the module docstring)."""
    rng = np.random.default_rng(seed)
    encoder = Sequential([Dense(n_in, hidden, init="glorot_uniform", rng=rng), Sigmoid()])
    decoder = [Dense(hidden, n_in, init="glorot_uniform", rng=rng)] + ([] if linear_output else [Sigmoid()])
    return Autoencoder(encoder, Sequential(decoder), loss=MSE(reduction="sum"),
                       penalties=[WeightDecay(2 * lam), KLSparsity(rho, 2 * beta)])


def whole_batch_objective(model, x):
    """``(f, theta)``: ``f(theta) -> (2J, gradient)`` on all of ``x`` with the model's parameters set to the flat
    float64 vector ``theta``, and the model's parameters now, flattened. ``f`` leaves ``theta`` in the model."""
    params = [param for _, param in model.named_parameters()]
    rng = np.random.default_rng(0)  # train_batch takes one; this model draws nothing

    def f(theta):
        start = 0
        for param in params:
            param[...] = theta[start:start + param.size].reshape(param.shape)
            start += param.size
        logs = model.train_batch(x, None, rng)
        gradient = np.concatenate([grad.ravel() for _, grad in model.named_gradients()]).astype(np.float64)
        return float(logs["loss"]), gradient

    return f, np.concatenate([param.ravel() for param in params]).astype(np.float64)


def lbfgs(f, theta, iterations, memory=10, armijo=1e-4):
    """Minimise ``f`` (``theta -> (value, gradient)``) by limited-memory BFGS: ``(theta, values per iteration)``.

    Each step goes along ``-H g``, where ``H`` approximates the inverse Hessian from the last ``memory`` pairs
    ``s = theta_new - theta``, ``y = g_new - g`` (the two-loop recursion, Nocedal & Wright Algorithm 7.4), scaled
    by ``s.y / y.y`` of the newest pair (before any pair: a step of length 1 along ``-g``). The step length
    starts at 1 and is halved until the value drops by at least ``armijo`` times the drop the slope predicts
    (backtracking). A pair with ``s.y <= 0`` (no positive curvature seen) is not stored, so ``H`` stays
    positive definite.
    """
    value, grad = f(theta)
    pairs, values = [], [value]
    for _ in range(iterations):
        if not np.any(grad):  # a stationary point: no direction goes down
            break
        q, alphas = grad.copy(), []
        for s, y in reversed(pairs):
            alphas.append(s @ q / (y @ s))
            q -= alphas[-1] * y
        scale = (pairs[-1][0] @ pairs[-1][1]) / (pairs[-1][1] @ pairs[-1][1]) if pairs else 1 / np.linalg.norm(grad)
        direction = scale * q
        for (s, y), alpha in zip(pairs, reversed(alphas)):
            direction += s * (alpha - y @ direction / (y @ s))
        direction = -direction
        slope = grad @ direction
        step = 1.0
        while True:
            new_value, new_grad = f(theta + step * direction)
            if new_value <= value + armijo * step * slope or step < 1e-12:
                break
            step /= 2
        if new_value > value:  # no step along this direction lowers f: we are at a (local) minimum
            f(theta)
            break
        s, y = step * direction, new_grad - grad
        if s @ y > 1e-12:
            pairs = (pairs + [(s, y)])[-memory:]
        theta, value, grad = theta + s, new_value, new_grad
        values.append(value)
    return theta, values


def train(model, x, iterations):
    """UFLDL's optimiser: ``iterations`` of L-BFGS on the whole batch; ``(values of 2J, seconds)``."""
    start = time.perf_counter()
    f, theta = whole_batch_objective(model, x)
    _, values = lbfgs(f, theta, iterations)
    return values, time.perf_counter() - start


def describe(name, filters):
    """Energy shares and spreads of a set of filters, as numbers for results.json."""
    share, spread = energy_share(filters), spatial_spread(filters)
    return {f"{name}_energy_share_median": float(np.median(share)), f"{name}_energy_share_mean": float(share.mean()),
            f"{name}_spread_median": float(np.median(spread))}


def grey_experiment(images, args, results):
    """Sparse autoencoder vs PCA on grey patches: ``(raw patches, network input, {name: filters})``."""
    n = pick(args, full=10000, short=10000, quick=2000)
    iterations = pick(args, full=400, short=400, quick=20)
    raw = extract_patches(images, PATCH, n, seed=args.seed)
    centred = remove_patch_mean(raw).reshape(n, -1)
    zca = ZCA(EPSILON).fit(centred)
    x = normalize_patches(zca.transform(centred).reshape(raw.shape)).reshape(n, -1)
    model = sparse_autoencoder(PATCH * PATCH, HIDDEN, RHO, BETA, LAMBDA, linear_output=False, seed=args.seed)
    values, seconds = train(model, x, iterations)
    pixel_filters = zca.matrix_ @ model.encoder[0].params["W"]
    pixel_filters -= pixel_filters.mean(axis=0)  # acts on the patches' mean, removed from every patch: a bias
    pca = PCA(HIDDEN).fit(centred)
    filters = {"sparse autoencoder": pixel_filters, "PCA": pca.components_.T}
    codes = model.encode(x)
    results.update(grey_patches=n, grey_iterations=iterations, grey_seconds=seconds, grey_final_loss=values[-1],
                   grey_mean_activation=float(codes.mean()),
                   grey_recon_per_patch=float(((model.reconstruct(x) - x) ** 2).sum(axis=1).mean()))
    for key, name in (("sparse", "sparse autoencoder"), ("pca", "PCA")):
        results.update(describe(f"grey_{key}", filters[name]))
    results["grey_noise_energy_share_median"], results["grey_noise_spread_median"] = noise_baseline(
        PATCH * PATCH, args.seed)
    return raw, x.reshape(raw.shape), filters


def colour_experiment(images, args, results):
    """The same on colour patches, with UFLDL's linear decoder: ``{name: filters}``."""
    n = pick(args, full=20000, short=10000, quick=2000)
    iterations = pick(args, full=400, short=200, quick=10)
    raw = extract_patches(images, PATCH, n, seed=args.seed).reshape(n, -1)
    zca = ZCA(EPSILON).fit(raw)  # ZCA removes the mean patch first, as UFLDL does for colour
    x = zca.transform(raw)
    model = sparse_autoencoder(raw.shape[1], COLOUR_HIDDEN, COLOUR_RHO, COLOUR_BETA, COLOUR_LAMBDA,
                               linear_output=True, seed=args.seed)
    values, seconds = train(model, x, iterations)
    pca = PCA(COLOUR_HIDDEN).fit(raw)
    filters = {"sparse autoencoder": zca.matrix_ @ model.encoder[0].params["W"], "PCA": pca.components_.T}
    results.update(colour_patches=n, colour_iterations=iterations, colour_seconds=seconds, colour_final_loss=values[-1],
                   colour_mean_activation=float(model.encode(x).mean()))
    for key, name in (("sparse", "sparse autoencoder"), ("pca", "PCA")):
        results.update(describe(f"colour_{key}", filters[name]))
    results["colour_noise_energy_share_median"], results["colour_noise_spread_median"] = noise_baseline(
        3 * PATCH * PATCH, args.seed)
    return filters


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def noise_baseline(values_per_filter, seed, n=10000):
    """Median energy share and spread of ``n`` filters of independent Gaussian weights: what the measures give
    a filter with no structure at all (the reference a learnt filter's numbers are read against)."""
    noise = np.random.default_rng([seed, 11]).standard_normal((values_per_filter, n))
    return float(np.median(energy_share(noise))), float(np.median(spatial_spread(noise)))


def check_findings(findings, results):
    """The walkthrough's claims, each computed from this run's numbers. A measure supports a claim only when the
    learnt filters beat both PCA's components and filters of random weights: beating PCA alone could mean only
    that PCA's gratings are unusually spread out."""
    for kind in ("grey", "colour"):
        sparse, pca = results[f"{kind}_sparse_energy_share_median"], results[f"{kind}_pca_energy_share_median"]
        noise = results[f"{kind}_noise_energy_share_median"]
        findings.check(
            f"{kind}_sparse_filters_more_localized", bool(sparse > max(pca, noise)),
            f"{kind}: the sparse autoencoder's filters are more localized than PCA's components and than random "
            f"weights (median share of a filter's energy in its {STRONGEST} strongest pixels {sparse:.2f} vs "
            f"{pca:.2f} and {noise:.2f})",
        )
    sparse, pca, noise = (results[f"grey_{name}_spread_median"] for name in ("sparse", "pca", "noise"))
    findings.check(
        "grey_sparse_filters_more_compact", bool(sparse < min(pca, noise)),
        f"grey: the sparse autoencoder's filters gather their energy closer to a centre than PCA's components and "
        f"random weights (median spread {sparse:.2f} vs {pca:.2f} and {noise:.2f} pixels)",
    )
    rate = results["grey_mean_activation"]
    findings.check(
        "grey_units_fire_rarely", rate < 2 * RHO,
        f"grey: the hidden units fire rarely, at a mean rate of {rate:.3f} (target rho = {RHO})",
    )


def localization_figure(grey, colour, noise_medians, title):
    """Histograms of the energy shares: sparse-autoencoder filters vs PCA components, grey and colour, with the
    median of filters of random weights (``noise_medians``: grey, colour) marked."""
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True)
    bins = np.linspace(0, 1, 41)
    for ax, (kind, filters), noise in zip(axes, (("grey", grey), ("colour", colour)), noise_medians):
        for i, (name, F) in enumerate(filters.items()):
            share = energy_share(F)
            ax.hist(share, bins=bins, alpha=0.6, color=f"C{i}", label=f"{name} (median {np.median(share):.2f})")
        ax.axvline(STRONGEST / PATCH**2, color="k", linestyle="--", label=f"spread evenly ({STRONGEST}/64)")
        ax.axvline(noise, color="0.4", linestyle=":", label=f"random weights (median {noise:.2f})")
        ax.set_xlabel(f"share of a filter's energy in its {STRONGEST} strongest of 64 pixels")
        ax.set_ylabel("number of filters")
        ax.set_title(f"{kind} patches", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def main():
    args = parse_args(__doc__, add_arguments=add_images_option)
    grey_images, colour_images, source = photographs(args)
    print(f"data: {source}")
    results = {"data": source, "rho": RHO, "beta": BETA, "lambda": LAMBDA, "zca_epsilon": EPSILON}
    raw, inputs, grey_filters = grey_experiment(grey_images, args, results)
    colour_filters = colour_experiment(colour_images, args, results)
    findings = Findings()
    check_findings(findings, results)
    shown = np.arange(12)
    save_figure(plots.image_grid(
        list(raw[shown]) + list(inputs[shown]), nrows=2, row_labels=["raw", "network input"],
        title="8x8 patches as cut (top) and after mean removal, ZCA whitening and scaling to [0.1, 0.9] (bottom)",
    ), args.out, "patches")
    save_figure(plots.filter_mosaics(grey_filters, (PATCH, PATCH), n=HIDDEN, title=findings.title(
        f"{HIDDEN} filters of a sparse autoencoder (left) and PCA's first {HIDDEN} components (right), in pixel "
        f"space, minus their means, on the same grey patches of {len(grey_images)} pictures",
        "grey_sparse_filters_more_compact", "grey_sparse_filters_more_localized")), args.out, "filters_sparse_vs_pca")
    save_figure(plots.filter_mosaics(colour_filters, (3, PATCH, PATCH), n=COLOUR_HIDDEN, title=findings.title(
        f"{COLOUR_HIDDEN} filters of a sparse autoencoder (left) and PCA's first {COLOUR_HIDDEN} components "
        "(right), on the same colour patches", "colour_sparse_filters_more_localized")), args.out, "colour_filters")
    noise_medians = (results["grey_noise_energy_share_median"], results["colour_noise_energy_share_median"])
    save_figure(localization_figure(grey_filters, colour_filters, noise_medians, findings.title(
        f"Share of each filter's energy in its {STRONGEST} strongest of 64 pixels: sparse autoencoder vs PCA",
        "grey_sparse_filters_more_localized", "colour_sparse_filters_more_localized")), args.out, "localization")
    save_results(args.out, results, findings)


if __name__ == "__main__":
    main()
