"""07 - A convolutional autoencoder: fewer weights, better reconstructions, because images are images.

The story
---------
A dense autoencoder sees an image as a list of 784 unrelated numbers: shuffle the pixels the same way in
every image and it learns just as well. It has to discover from data that neighbouring pixels belong
together, and that a stroke is a stroke wherever it is drawn. A convolutional layer builds both facts in.

A **convolution** (PyTorch's cross-correlation) slides a small kernel ``W`` (out, in, 3, 3) over the image:

    y[o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] x[c, i + u - 1, j + v - 1]     (padding 1: same size)

- **Local receptive fields.** Each output value looks at a 3 x 3 patch only: edges, stroke ends and
  corners are local, so this is where the information is.
- **Weight sharing.** The same kernel is used at every position. The first layer (1 -> 16 channels) has
  16 x 9 + 16 = 160 parameters; a dense layer producing the same 16 x 28 x 28 outputs would need
  784 x 12544 (about 9.8 million) weights.
- **Translation equivariance.** Shift the input and the feature maps shift with it (away from the borders):
  a detector learnt for a stroke in one place works everywhere.

**Max pooling** (2 x 2, stride 2) keeps the largest value of each window: it halves height and width
(28 -> 14 -> 7) and tolerates shifts smaller than the window. After conv-pool-conv-pool, each of the 7 x 7
positions sees a 10 x 10 patch of the digit. **Upsampling** (nearest, x 2) copies each value into a 2 x 2
block, and the convolution after it smooths and refines the blocky result; the decoder mirrors the encoder.

The model (the benchmark ConvAE, ``npae.conv_autoencoder``) with a 32-number code:

    encoder: Conv(1->16, 3x3) ReLU, MaxPool 2, Conv(16->32, 3x3) ReLU, MaxPool 2, Flatten, Dense(1568->32)
    decoder: Dense(32->1568) ReLU, Reshape(32, 7, 7), UpSampling 2, Conv(32->16) ReLU, UpSampling 2,
             Conv(16->1) sigmoid

Every layer starts from PyTorch's default initialisation, weights and biases uniform on +-1/sqrt(fan_in).
Initialisation matters more than one might think: from He/Glorot weights the same model learns more
slowly (test MSE 0.0120 against 0.0109 after 2 epochs, 0.0069 against 0.0057 after 10).

**Parameters vs arithmetic.** The convolutions hold only 160 + 4640 + 4624 + 145 = 9569 parameters; the two
Dense layers to and from the code hold 50208 + 51744, so the whole ConvAE has 111521, about a quarter of the
dense autoencoder 784-256-128-32-128-256-784 (476720). Yet each weight is reused at every position: the
ConvAE does about 2.1 million multiply-adds per image, the dense one about 0.48 million. Fewer
parameters, more computation, hence the longer training time.

We compare, at the same code size 32 and with the same recipe (MSE per pixel, Adam lr 1e-3, batch 200,
10 epochs on the 60000 training images; the test set is only measured, never trained on):

1. **PCA-32**, the best *linear* code (walkthrough 01), no training;
2. the **dense autoencoder** 784-256-128-32 (``npae.models.zoo.dense_autoencoder``);
3. the **convolutional autoencoder** above.

Expected (the figures of issue 3): PCA-32 about 0.0168; the ConvAE at or below 0.0062 after 10 epochs
(PyTorch, same model: 0.0070 after 5 epochs, 0.0057 after 10). Measured with seed 0: PCA-32 0.0168, dense
AE 0.0077, ConvAE 0.0071 after 5 epochs and 0.0057 after 10, with a quarter of the dense AE's parameters
but about 8 times its training time (4.1 against 0.5 minutes on one thread of a quiet 2-core machine).

What to look at
---------------
- ``reconstructions.png``: one test digit of each class, reconstructed by PCA-32, the dense AE and the
  ConvAE (each row labelled with its test MSE per pixel). PCA blurs and leaves ghost strokes, the dense AE
  is sharper, the ConvAE sharper still. A 32-number code must commit to one shape: an unusual digit can
  come back as its common look-alike (with seed 0 the ConvAE turns the 3 with an almost closed left side
  into an 8), a small error per pixel for a different digit.
- ``conv_filters.png``: the 16 learnt 3 x 3 kernels of the first layer on one diverging scale (red
  positive, blue negative, white zero). Some are oriented edge detectors: a red side next to a blue side
  responds where the brightness changes across that direction. Others are mostly of one sign: they
  pass on a smoothed copy of the strokes (or, negated, of the background).
- ``feature_maps.png``: what those 16 filters (after ReLU) make of one test digit: some maps light up the
  strokes, some only one edge of them, some the background (dark on and around the strokes), and a
  filter may stay silent for this digit. The encoder condenses these 16 views (through a second
  convolution and two poolings) into the 32-number code.
- ``training_curves.png``: train and test MSE per pixel per epoch of both autoencoders.
- ``results.json``: test MSE per pixel, training minutes and parameter counts of the three models.

Full run: 60000 training images, 10 epochs per autoencoder (the ConvAE takes the longest: see the minutes in
``results.json``); ``--short``: 20000 training images, 2 epochs (the ConvAE is already ahead);
``--quick``: 1000 images, 1 epoch.
"""

import time

import numba

from npae import PCA, Adam, conv_autoencoder, dense_autoencoder, plots
from npae.apps.walkthrough import Findings, load_data, one_per_class, parse_args, pick, save_figure, save_results

CODE_DIM = 32
TARGET_CONV_MSE = 0.0062  # issue 3: ConvAE test MSE per pixel after 10 epochs


def flat(images):
    """(N, 1, 28, 28) -> (N, 784): the dense autoencoder and PCA read flat vectors."""
    return images.reshape(len(images), -1)


def train(model, x_train, x_test, epochs, seed):
    """Adam lr 1e-3, batch 200, the test set measured after each epoch; returns (history, minutes)."""
    start = time.perf_counter()
    history = model.fit(x_train, epochs=epochs, batch_size=200, validation_data=x_test,
                        optimizer=Adam(1e-3), seed=seed)
    return history, (time.perf_counter() - start) / 60


def fit_pca(x_train):
    """PCA with CODE_DIM components (closed form); returns (pca, minutes)."""
    start = time.perf_counter()
    pca = PCA(CODE_DIM).fit(x_train)
    return pca, (time.perf_counter() - start) / 60


def first_conv_and_activation(model):
    """The encoder's first convolution and the activation right after it."""
    conv, activation = model.encoder.layers[:2]
    if "W" not in conv.params or conv.params["W"].ndim != 4:
        raise ValueError(f"model: expected the encoder to start with a convolution, got {type(conv).__name__}")
    return conv, activation


def feature_maps(model, image):
    """The first layer's 16 feature maps (after its activation) for one image (1, 28, 28)."""
    conv, activation = first_conv_and_activation(model)
    return activation.forward(conv.forward(image[None]))[0]


def check_findings(findings, mse, parameters, full_run):
    """The walkthrough's claims, each computed from this run's numbers."""
    findings.check(
        "conv_beats_dense", mse["conv"] < mse["dense"],
        f"the ConvAE reconstructs better than the dense AE ({mse['conv']:.4f} vs {mse['dense']:.4f} MSE per pixel)",
    )
    findings.check(
        "dense_beats_pca", mse["dense"] < mse["pca"],
        f"the dense AE reconstructs better than PCA-{CODE_DIM} ({mse['dense']:.4f} vs {mse['pca']:.4f})",
    )
    findings.check(
        "conv_has_fewer_weights", parameters["conv"] < parameters["dense"] / 3,
        f"the ConvAE has {parameters['dense'] / parameters['conv']:.1f} times fewer parameters than the dense AE "
        f"({parameters['conv']} vs {parameters['dense']})",
    )
    if full_run:
        findings.check(
            "conv_meets_issue_target", mse["conv"] <= TARGET_CONV_MSE,
            f"the ConvAE reaches the target of issue 3 ({mse['conv']:.4f} <= {TARGET_CONV_MSE})",
        )


def reconstruction_figure(data, pca, dense_ae, conv_ae, mse, title):
    """One test digit per class: originals, then PCA, dense AE and ConvAE rows labelled with their test MSE."""
    picks = one_per_class(data.y_test)
    originals = data.x_test[picks]
    rows = {
        f"PCA-{CODE_DIM}\nMSE {mse['pca']:.4f}": pca.inverse_transform(pca.transform(flat(originals))),
        f"dense AE\nMSE {mse['dense']:.4f}": dense_ae.reconstruct(flat(originals)),
        f"conv AE\nMSE {mse['conv']:.4f}": conv_ae.reconstruct(originals),
    }
    return plots.reconstruction_rows(
        flat(originals), {label: flat(images) for label, images in rows.items()},
        digit_labels=data.y_test[picks], title=title,
    )


def filter_figure(conv_ae):
    """The first layer's 3 x 3 kernels, enlarged, on one diverging scale."""
    kernels = first_conv_and_activation(conv_ae)[0].params["W"][:, 0]
    return plots.channel_maps(
        kernels, titles=[f"filter {k}" for k in range(len(kernels))], colorbar_label="weight",
        title=f"conv AE: the {len(kernels)} learnt 3x3 kernels of the first layer "
              "(red positive, blue negative, white 0)",
    )


def feature_map_figure(conv_ae, data):
    """The first layer's feature maps (after ReLU) for the first test digit."""
    maps = feature_maps(conv_ae, data.x_test[0])
    return plots.channel_maps(
        maps, titles=[f"filter {k}" for k in range(len(maps))], cmap="magma", symmetric=False,
        colorbar_label="activation after ReLU",
        title=f"conv AE: first-layer feature maps of a test digit {int(data.y_test[0])} (28x28 each)",
    )


def main():
    args = parse_args(__doc__)
    data = load_data(args, n_train=pick(args, full=None, short=None, quick=None), flatten=False)
    epochs = pick(args, full=10, short=3, quick=1)

    pca, pca_minutes = fit_pca(flat(data.x_train))
    print(f"training the dense autoencoder 784-256-128-{CODE_DIM} for {epochs} epochs")
    dense_ae = dense_autoencoder(code_dim=CODE_DIM, seed=args.seed)
    dense_history, dense_minutes = train(dense_ae, flat(data.x_train), flat(data.x_test), epochs, args.seed)
    print(f"training the convolutional autoencoder for {epochs} epochs")
    conv_ae = conv_autoencoder(code_dim=CODE_DIM, seed=args.seed)
    conv_history, conv_minutes = train(conv_ae, data.x_train, data.x_test, epochs, args.seed)

    mse = {
        "pca": pca.reconstruction_error(flat(data.x_test)),
        "dense": dense_ae.evaluate(flat(data.x_test))["loss"],
        "conv": conv_ae.evaluate(data.x_test)["loss"],
    }
    parameters = {"dense": dense_ae.num_parameters(), "conv": conv_ae.num_parameters()}
    findings = Findings()
    check_findings(findings, mse, parameters, args.size == "full")
    save_figure(reconstruction_figure(data, pca, dense_ae, conv_ae, mse, findings.title(
        f"test digits (top) and their reconstructions from {CODE_DIM} numbers (row label: test MSE per pixel)",
        "conv_beats_dense", "conv_has_fewer_weights")), args.out, "reconstructions")
    save_figure(filter_figure(conv_ae), args.out, "conv_filters")
    save_figure(feature_map_figure(conv_ae, data), args.out, "feature_maps")
    save_figure(plots.training_curves(
        [dense_history, conv_history], ["dense AE", "conv AE"], ylabel="MSE per pixel", val_name="test",
        title=f"dense vs convolutional autoencoder (code size {CODE_DIM}): train (solid) vs test (dashed)",
        logy=True,
    ), args.out, "training_curves")

    save_results(args.out, {
        "data": str(data),
        "epochs": epochs,
        "code_dim": CODE_DIM,
        f"pca{CODE_DIM}_test_mse": mse["pca"],
        f"dense_ae{CODE_DIM}_test_mse": mse["dense"],
        f"conv_ae{CODE_DIM}_test_mse": mse["conv"],
        "conv_ae_target_test_mse": TARGET_CONV_MSE,
        "pca_fit_minutes": pca_minutes,
        "dense_ae_train_minutes": dense_minutes,
        "conv_ae_train_minutes": conv_minutes,
        "numba_threads": numba.get_num_threads(),
        "dense_ae_parameters": parameters["dense"],
        "conv_ae_parameters": parameters["conv"],
        "pca_parameters": pca.components_.size + pca.mean_.size,
        "dense_ae_history": dense_history.history,
        "conv_ae_history": conv_history.history,
    }, findings)


if __name__ == "__main__":
    main()
