"""10 - Semi-supervised learning: 60000 images, only 100 of them labelled. Do the other 59900 help?

The question
------------
Labels are expensive, images are cheap. With 100 labelled digits (10 per class) a classifier on raw pixels
must learn 784 x 10 weights from 100 examples. An autoencoder can learn from all 60000 images without any
label, and a classifier on its 32-number code has only 32 x 10 weights to learn. The hope is that the code
already sorts digits by kind, so that few labels suffice to name the groups.

The classifier is **softmax regression**: ``p(y = k | x) = softmax(x W + b)_k`` with
``softmax(a)_k = e^{a_k} / sum_j e^{a_j}``, trained on the cross-entropy ``-log p(y_n | x_n)`` (in nats,
averaged over the labelled examples) plus a weight decay ``lam/2 |W|^2`` with lam = 1e-3 (full batch, Adam
lr 1e-2, 300 steps). Three ways to use the unlabelled images:

1. **none**: softmax regression on the raw pixels of the labelled digits;
2. **pretraining**: train the dense autoencoder (784-256-128-32) on all training images, then softmax
   regression on the codes of the labelled digits (each code coordinate standardised with the mean and
   standard deviation over all training codes, which needs no label);
3. **joint objective**: one network trained on both tasks at once. A classifier head ``h`` reads the code,
   and every step minimises

       L = MSE(g(f(x)), x)  +  alpha * CE(h(f(x_l)), y_l)          (alpha = 1)

   where the MSE is over the batch (plus the labelled images) and the cross-entropy over the labelled set.
   The reconstruction term shapes the code with all images; the classification term pushes the digit
   classes apart. Both gradients meet in the encoder: ``dL/dcode = dMSE/dcode + alpha dCE/dcode``.

All three are tested on the 10000 test digits. A second experiment varies the number of labels (1 to 100
per class) for pixels vs codes.

What we found (full run, seed 0)
--------------------------------
Not what the hope says. With 100 labels, pixels give about 78% test accuracy, autoencoder codes about 74%,
and the joint objective about 78%; codes trail pixels at every number of labels, and a 1-nearest-neighbour
classifier tells the same story (73% on pixels, 72% on codes). Two reasons, both worth knowing:

- an autoencoder's code keeps whatever redraws the pixels best, above all the position, thickness and
  slant of the strokes; those vary within a class as much as between classes, and nothing in the MSE asks
  the code to put the digit's identity first (walkthrough 02's 2-D maps show classes overlapping in PCA
  of the codes; only t-SNE, which uses the neighbourhoods of all points, pulls them apart);
- in the joint objective, the head memorises the 100 labelled digits within two epochs (the cross-entropy
  falls below 0.001 nats, see ``joint_training.png``), after which the classification term has no gradient
  left and only the reconstruction shapes the code. Smaller weights did worse in a trial run (alpha = 0.01:
  75%, 0.1: 76%).

Semi-supervised methods that do beat pixels by a wide margin on 100 MNIST labels model the classes in the
unlabelled data themselves: the VAE with a label latent of Kingma et al. (2014), ladder networks, or label
propagation over a neighbour graph.

What to look at
---------------
- ``accuracy_100_labels.png``: test accuracy of the three approaches with 100 labels.
- ``accuracy_vs_labels.png``: test accuracy against the number of labelled digits, pixels vs codes.
- ``labelled_digits.png``: the 100 labelled digits, all the supervision there is.
- ``joint_training.png``: reconstruction and cross-entropy terms of the joint objective by epoch.

Full run: 60000 training images, 10 epochs for each autoencoder. ``--short``: 4 epochs.
"""

import time

import numpy as np

from npae import Adam, Autoencoder, Dense, Sequential, SoftmaxCrossEntropy, WeightDecay, dense_autoencoder, plots, training
from npae.apps.walkthrough import Findings, load_data, parse_args, pick, save_figure, save_results
from npae.core.checks import check_data
from npae.core.functions import one_hot
from npae.models.base import Model

N_CLASSES = 10
ALPHA = 1.0


def check_labels(y, n, name="y"):
    """Integer labels (n,) in 0..9."""
    y = np.asarray(y)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected {n} integer labels, got dtype {y.dtype} shape {y.shape}")
    return y


class SoftmaxRegression(Model):
    """``p(y | x) = softmax(x W + b)``, trained on cross-entropy + ``lam/2 |W|^2``; fits with ``npae.training``."""

    def __init__(self, n_features, weight_decay=1e-3, seed=0):
        self.net = Sequential([Dense(n_features, N_CLASSES, rng=seed)])
        self.n_features = n_features
        self.loss = SoftmaxCrossEntropy()
        self.decay = WeightDecay(weight_decay)

    def modules(self):
        return [("net", self.net)]

    def prepare(self, X, y=None, name="X"):
        X = check_data(X, name, self.dtype, (self.n_features,))
        return X, check_labels(y, len(X))

    def train_batch(self, xb, yb, rng):
        logits = self.net.forward(xb, training=True)
        ce, dlogits = self.loss.value_and_grad(logits, one_hot(yb, N_CLASSES, xb.dtype))
        self.net.backward(dlogits, need_input_grad=False)
        penalty = self.decay.apply_to_parameters(self)
        return {"loss": ce + penalty, "cross_entropy": ce}

    def predict(self, X):
        return np.argmax(self.net.forward(check_data(X, "X", self.dtype, (self.n_features,))), axis=1)

    def evaluate(self, X, y=None):
        X, y = self.prepare(X, y)
        logits = self.net.forward(X)
        return {"loss": self.loss.value(logits, one_hot(y, N_CLASSES, X.dtype)),
                "accuracy": float(np.mean(np.argmax(logits, axis=1) == y))}


def fit_classifier(X, y, seed, epochs):
    """Softmax regression fitted on all of ``(X, y)`` at once (full batch, Adam lr 1e-2)."""
    model = SoftmaxRegression(X.shape[1], seed=seed)
    training.fit(model, X, y=y, epochs=epochs, batch_size=len(X), optimizer=Adam(1e-2), seed=seed, verbose=0)
    return model


class JointAutoencoder(Autoencoder):
    """An autoencoder whose code also feeds a softmax classifier head, trained on MSE + alpha * CE.

    Every training batch is extended with the labelled images ``x_l``; the head sees their codes only.
    """

    def __init__(self, base, x_labelled, y_labelled, alpha, seed=0):
        code_dim = base.decoder[0].in_features
        self.head = Sequential([Dense(code_dim, N_CLASSES, rng=seed)], name="head")
        super().__init__(base.encoder, base.decoder, loss=base.loss)
        self.x_labelled = check_data(x_labelled, "x_labelled", self.dtype, self.input_shape)
        self.t_labelled = one_hot(check_labels(y_labelled, len(x_labelled), "y_labelled"), N_CLASSES, self.dtype)
        self.alpha = alpha
        self.cross_entropy = SoftmaxCrossEntropy()

    def modules(self):
        return super().modules() + [("head", self.head)]

    def train_batch(self, xb, yb, rng):
        """``dL/dcode = dMSE/dcode + alpha dCE/dcode``: both terms' gradients meet in the encoder."""
        n_l = len(self.x_labelled)
        x = np.concatenate([xb, self.x_labelled])
        code = self.encoder.forward(x, training=True)
        recon, dout = self.loss.value_and_grad(self.decoder.forward(code, training=True), x)
        ce, dlogits = self.cross_entropy.value_and_grad(self.head.forward(code[-n_l:], training=True),
                                                        self.t_labelled)
        dcode = self.decoder.backward(dout)
        dcode[-n_l:] += self.dtype(self.alpha) * self.head.backward(dlogits)
        self.encoder.backward(dcode, need_input_grad=False)
        return {"loss": recon + self.alpha * ce, "recon": recon, "cross_entropy": ce}

    def predict(self, X):
        return np.argmax(self.head.forward(self.encode(X)), axis=1)


def labelled_subset(y, per_class, rng):
    """Indices of ``per_class`` random training images of each digit."""
    return np.concatenate([rng.choice(np.flatnonzero(y == k), size=per_class, replace=False)
                           for k in range(N_CLASSES)])


def standardiser(codes):
    """``z -> (z - mean) / std`` with the statistics of all (unlabelled) training codes."""
    mean, std = codes.mean(axis=0), codes.std(axis=0) + 1e-6
    return lambda z: ((z - mean) / std).astype(codes.dtype)


def accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def label_sweep(data, encode, per_class_list, rng, seed, epochs):
    """Test accuracy of softmax regression on pixels and on codes for each number of labels per class."""
    pixels, codes = [], []
    test_codes = encode(data.x_test)
    for per_class in per_class_list:
        idx = labelled_subset(data.y_train, per_class, rng)
        pixels.append(accuracy(fit_classifier(data.x_train[idx], data.y_train[idx], seed, epochs),
                               data.x_test, data.y_test))
        codes.append(accuracy(fit_classifier(encode(data.x_train[idx]), data.y_train[idx], seed, epochs),
                              test_codes, data.y_test))
        print(f"{per_class * N_CLASSES} labels: pixels {pixels[-1]:.3f}, codes {codes[-1]:.3f}")
    return pixels, codes


def check_findings(findings, results_100, n_labelled, n_labels, pixels, codes, final_cross_entropy):
    """The walkthrough's claims, each computed from this run's numbers."""
    pixel, code = results_100["pixels"], results_100["autoencoder codes"]
    joint = results_100[f"joint (alpha {ALPHA})"]
    findings.check(
        "codes_trail_pixels", code < pixel,
        f"with {n_labelled} labels, softmax regression on autoencoder codes trails the same on pixels "
        f"({100 * code:.1f}% vs {100 * pixel:.1f}%)",
    )
    findings.check(
        "codes_trail_pixels_at_every_label_count", all(c < p for c, p in zip(codes, pixels)),
        f"codes trail pixels at every number of labels from {n_labels[0]} to {n_labels[-1]}",
    )
    findings.check(
        "joint_objective_adds_little", abs(joint - pixel) < 0.02,
        f"the joint objective does about as well as pixels alone ({100 * joint:.1f}% vs {100 * pixel:.1f}%): the "
        "unlabelled images add little",
    )
    findings.check(
        "head_memorises_the_labels", final_cross_entropy < 0.01,
        f"the joint model's head memorises the labelled digits: cross-entropy {final_cross_entropy:.4f} nats after "
        "the last epoch",
    )


def bar_figure(accuracies, title):
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    names = list(accuracies)
    bars = ax.bar(names, [100 * a for a in accuracies.values()], color=[f"C{i}" for i in range(len(names))])
    ax.bar_label(bars, fmt="%.1f%%")
    ax.set_ylabel("test accuracy (%), 10000 digits")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def main():
    args = parse_args(__doc__)
    data = load_data(args)
    rng = np.random.default_rng(args.seed)
    epochs = pick(args, full=10, short=4, quick=1)
    clf_epochs = pick(args, full=300, short=300, quick=20)
    labelled = labelled_subset(data.y_train, 10, rng)
    x_l, y_l = data.x_train[labelled], data.y_train[labelled]

    pixel_clf = fit_classifier(x_l, y_l, args.seed, clf_epochs)

    start = time.perf_counter()
    autoencoder = dense_autoencoder(seed=args.seed)
    autoencoder.fit(data.x_train, epochs=epochs, batch_size=200, optimizer=Adam(1e-3), seed=args.seed)
    ae_seconds = time.perf_counter() - start
    scale = standardiser(autoencoder.encode(data.x_train))
    encode = lambda x: scale(autoencoder.encode(x))  # noqa: E731
    code_clf = fit_classifier(encode(x_l), y_l, args.seed, clf_epochs)

    start = time.perf_counter()
    joint = JointAutoencoder(dense_autoencoder(seed=args.seed), x_l, y_l, ALPHA, seed=args.seed)
    joint_history = joint.fit(data.x_train, epochs=epochs, batch_size=200, optimizer=Adam(1e-3), seed=args.seed)
    joint_seconds = time.perf_counter() - start

    results_100 = {
        "pixels": accuracy(pixel_clf, data.x_test, data.y_test),
        "autoencoder codes": accuracy(code_clf, encode(data.x_test), data.y_test),
        f"joint (alpha {ALPHA})": accuracy(joint, data.x_test, data.y_test),
    }

    per_class_list = pick(args, full=[1, 2, 5, 10, 30, 100], short=[1, 2, 5, 10, 30, 100], quick=[1, 10])
    pixels, codes = label_sweep(data, encode, per_class_list, rng, args.seed, clf_epochs)
    n_labels = [N_CLASSES * k for k in per_class_list]
    findings = Findings()
    check_findings(findings, results_100, len(labelled), n_labels, pixels, codes, joint_history["cross_entropy"][-1])
    save_figure(bar_figure(results_100, findings.title(
        f"test accuracy of softmax regression from {len(labelled)} labelled digits: do the unlabelled images help?",
        "codes_trail_pixels", "joint_objective_adds_little")), args.out, "accuracy_100_labels")
    save_figure(plots.line_plot(
        n_labels, {"softmax regression on pixels": [100 * a for a in pixels],
                   "softmax regression on autoencoder codes": [100 * a for a in codes]},
        xlabel="number of labelled training digits", ylabel="test accuracy (%)", logx=True,
        title=findings.title("test accuracy vs number of labels: raw pixels vs codes learnt from unlabelled images",
                             "codes_trail_pixels_at_every_label_count"),
    ), args.out, "accuracy_vs_labels")
    save_figure(plots.image_grid(
        x_l, nrows=N_CLASSES, title=f"the {len(labelled)} labelled training digits (one row per class)",
    ), args.out, "labelled_digits")
    save_figure(plots.line_plot(
        np.arange(1, epochs + 1), {"reconstruction (MSE per pixel)": joint_history["recon"],
                                   "cross-entropy on the labelled digits (nats)": joint_history["cross_entropy"]},
        xlabel="epoch", ylabel="training loss term", logy=True,
        title=findings.title(f"joint objective MSE + {ALPHA} * CE: the two terms by epoch",
                             "head_memorises_the_labels"),
    ), args.out, "joint_training")

    save_results(args.out, {
        "data": str(data),
        "labels": len(labelled),
        "accuracy_100_labels": results_100,
        "autoencoder_test_mse": autoencoder.evaluate(data.x_test)["loss"],
        "joint_test_mse": joint.evaluate(data.x_test)["loss"],
        "autoencoder_train_seconds": ae_seconds,
        "joint_train_seconds": joint_seconds,
        "label_counts": n_labels,
        "pixel_accuracy_by_labels": pixels,
        "code_accuracy_by_labels": codes,
    }, findings)


if __name__ == "__main__":
    main()
