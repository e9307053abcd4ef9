"""Bad input at every public entry point raises ValueError/TypeError naming the argument, what was expected and
what was received. One row per case: a callable that must raise, the exception type, and a regex the message
must match (argument name ... expected ... received).
"""

import json

import numpy as np
import pytest

import npae
from npae import (
    SGD, Adam, AvgPool2D, Conv2D, Conv2DTranspose, Dense, LeakyReLU, MaxPool2D, ReLU, Reshape, Sequential, Sigmoid,
    UpSampling2D,
)
from npae.core.layers import get_activation
from npae.core.checks import as_generator, check_float_dtype
from npae import GaussianNoise, MaskingNoise
from npae.core.losses import MSE, BinaryCrossEntropy, get_loss
from npae.models import Autoencoder
from npae.models.vae import VAE
from npae.models.zoo import conv_autoencoder, dense_autoencoder, mlp
from npae.core.optim import StepDecay, get_optimizer
from npae.core.penalties import KLSparsity, L1Activity, WeightDecay

X = np.random.default_rng(0).random((6, 8)).astype(np.float32)
IMAGES = np.random.default_rng(1).random((2, 3, 5, 5)).astype(np.float32)


def ae(**kwargs):
    return dense_autoencoder(8, (6,), 3, seed=0, **kwargs)


def fit(data=X, model=None, **kwargs):
    settings = dict(epochs=1, batch_size=4, verbose=0, optimizer=SGD(0.1))
    settings.update(kwargs)
    return (model or ae()).fit(data, **settings)


def with_value(array, index, value):
    out = array.copy()
    out[index] = value
    return out


def vae(**kwargs):
    return VAE(mlp((8, 6, 4)), mlp((2, 6, 8)), latent_dim=2, **kwargs)


def backward_after_forward(layer, dy):
    layer.forward(IMAGES)
    return layer.backward(dy)


def dense_forward(x, layer=None):
    return (layer or Dense(8, 3, rng=0)).forward(x)


ROWS = [
    # --- training data -------------------------------------------------------------------------
    ("X list", lambda: fit(X.tolist()), TypeError, r"X: expected a numpy array, got list"),
    ("X uint8", lambda: fit((X * 255).astype(np.uint8)), TypeError,
     r"X: expected a float array, got dtype uint8 .*/ 255"),
    ("X object", lambda: fit(X.astype(object)), TypeError, r"X: expected a float array, got dtype object"),
    ("X complex", lambda: fit(X.astype(np.complex64)), TypeError, r"X: expected a float array, got dtype complex64"),
    ("X rank 1", lambda: fit(X[0]), ValueError, r"X: expected shape \(N, \.\.\.\) with N >= 1 samples, got \(8,\)"),
    ("X no samples", lambda: fit(X[:0]), ValueError,
     r"X: expected shape \(N, \.\.\.\) with N >= 1 samples, got \(0, 8\)"),
    ("X width", lambda: fit(X[:, :7]), ValueError, r"X: expected shape \(N, 8\), got \(6, 7\)"),
    ("X images", lambda: fit(X.reshape(6, 1, 2, 4)), ValueError, r"X: expected shape \(N, 8\), got \(6, 1, 2, 4\)"),
    ("X NaN", lambda: fit(with_value(X, (2, 3), np.nan)), ValueError,
     r"X: expected finite values, got 1 NaN or infinite"),
    ("X inf", lambda: fit(with_value(X, (0, 0), np.inf)), ValueError,
     r"X: expected finite values, got 1 NaN or infinite"),
    ("BCE X > 1", lambda: fit(X * 255, model=ae(loss="bce")), ValueError,
     r"X: a BCE \(Bernoulli\) autoencoder needs values in \[0, 1\], got range \[\d.*, 2\d\d.*\]"),
    ("validation shape", lambda: fit(validation_data=X[:, :4]), ValueError,
     r"validation_data: expected shape \(N, 8\), got \(6, 4\)"),
    ("validation triple", lambda: fit(validation_data=(X, None, None)), ValueError,
     r"validation_data: expected X_val or a pair \(X_val, y_val\), got a tuple of 3"),
    ("encode width", lambda: ae().encode(X[:, :5]), ValueError, r"X: expected shape \(N, 8\), got \(6, 5\)"),
    ("decode int", lambda: ae().decode(np.zeros((2, 3), np.int32)), TypeError,
     r"codes: expected a float array, got dtype int32"),
    ("reconstruct NaN", lambda: ae().reconstruct(with_value(X, (1, 1), np.nan)), ValueError,
     r"X: expected finite values"),
    # --- fit options ---------------------------------------------------------------------------
    ("batch_size 0", lambda: fit(batch_size=0), ValueError, r"batch_size: expected an int >= 1, got 0"),
    ("batch_size float", lambda: fit(batch_size=2.5), TypeError, r"batch_size: expected an int >= 1, got 2\.5"),
    ("epochs 0", lambda: fit(epochs=0), ValueError, r"epochs: expected an int >= 1, got 0"),
    ("encode batch_size", lambda: ae().encode(X, batch_size=-3), ValueError,
     r"batch_size: expected an int >= 1, got -3"),
    ("patience alone", lambda: fit(patience=2), ValueError,
     r"patience: early stopping needs validation_data, got validation_data=None"),
    ("patience 0", lambda: fit(patience=0, validation_data=X), ValueError, r"patience: expected an int >= 1, got 0"),
    ("min_delta", lambda: fit(min_delta=-0.1), ValueError, r"min_delta: expected a finite number >= 0, got -0\.1"),
    ("clip_norm 0", lambda: fit(clip_norm=0), ValueError, r"clip_norm: expected a finite number > 0, got 0"),
    ("clip_norm str", lambda: fit(clip_norm="1"), TypeError, r"clip_norm: expected a finite number > 0, got '1'"),
    ("seed str", lambda: fit(seed="0"), TypeError,
     r"seed: expected an int >= 0, a numpy\.random\.Generator or None, got '0'"),
    ("seed negative", lambda: fit(seed=-1), ValueError, r"seed: expected an int >= 0, .* got -1"),
    ("callback", lambda: fit(callbacks=[print, 3]), TypeError,
     r"callbacks\[1\]: expected a callable cb\(model, epoch, logs\), got 3"),
    ("resume alone", lambda: fit(resume=True), ValueError,
     r"resume: resuming needs checkpoint_dir .*got checkpoint_dir=None"),
    ("checkpoint_dir", lambda: fit(checkpoint_dir=5), TypeError,
     r"checkpoint_dir: expected a str or os\.PathLike folder, got int"),
    ("checkpoint_dir file", lambda: fit(checkpoint_dir=__file__), ValueError,
     r"checkpoint_dir: expected a folder, got the file '.*test_validation\.py'"),
    # --- option names --------------------------------------------------------------------------
    ("optimizer name", lambda: fit(optimizer="rmsprop"), ValueError,
     r"optimizer: expected one of \['adam', 'sgd'\] or an Optimizer, got 'rmsprop'"),
    ("optimizer type", lambda: get_optimizer(0.1), ValueError, r"optimizer: expected one of .* got 0\.1"),
    ("loss name", lambda: ae(loss="hinge"), ValueError,
     r"loss: expected one of \['bce', .*'mse'\] or a Loss instance, got 'hinge'"),
    ("loss type", lambda: get_loss(None), ValueError, r"loss: expected one of .* got None"),
    ("activation", lambda: get_activation("swish"), ValueError,
     r"activation: expected one of \[.*'relu'.*\] or an Activation, got 'swish'"),
    ("init", lambda: Dense(4, 2, init="xavier"), ValueError, r"init: expected one of glorot_uniform, .*, got 'xavier'"),
    ("reduction", lambda: MSE(reduction="none"), ValueError,
     r"reduction: expected one of \('mean', 'sum'\), got 'none'"),
    ("dtype", lambda: Dense(4, 2, dtype=np.int32), TypeError, r"dtype: expected float32 or float64, got int32"),
    ("dtype name", lambda: check_float_dtype("float16"), TypeError, r"dtype: expected float32 or float64, got float16"),
    ("astype", lambda: ae().astype("int8"), TypeError, r"dtype: expected float32 or float64, got int8"),
    ("rng", lambda: as_generator("seed"), TypeError,
     r"rng: expected an int seed, a numpy\.random\.Generator or None, got str"),
    ("Dense rng", lambda: Dense(4, 2, rng=1.5), TypeError, r"rng: expected an int seed, .* got float"),
    # --- sizes and shapes ----------------------------------------------------------------------
    ("in_features 0", lambda: Dense(0, 4), ValueError, r"in_features: expected an int >= 1, got 0"),
    ("code size 0", lambda: Dense(4, 0), ValueError, r"out_features: expected an int >= 1, got 0"),
    ("code_dim 0", lambda: dense_autoencoder(8, (6,), 0), ValueError, r"code_dim: expected an int >= 1, got 0"),
    ("hidden size", lambda: mlp((8, -2, 3)), ValueError, r"sizes\[1\]: expected an int >= 1, got -2"),
    ("sizes", lambda: mlp((8,)), ValueError, r"sizes: expected at least two layer sizes, got \(8,\)"),
    ("Reshape shape", lambda: Reshape((0, 4)), ValueError, r"shape: expected a tuple of positive ints .*got \(0, 4\)"),
    ("Reshape size", lambda: Reshape((3, 3)).forward(X), ValueError,
     r"Reshape\.forward: cannot reshape x of shape \(6, 8\) to \(N, 3, 3\): 8 values per sample, expected 9"),
    ("input_shape", lambda: Autoencoder(ReLU(), ReLU(), input_shape=(-1,)), ValueError,
     r"input_shape: expected a tuple of positive ints .*got \(-1,\)"),
    ("input_shape str", lambda: Autoencoder(ReLU(), ReLU(), input_shape="8"), TypeError,
     r"input_shape: expected a non-empty tuple of positive ints .*got '8'"),
    ("encoder/decoder", lambda: Autoencoder(Dense(8, 3), Dense(4, 8)), ValueError,
     r"encoder/decoder: a dry forward pass on input shape \(8,\) failed: "
     r"Dense\.forward: x must have shape \(N, 4\), got \(2, 3\)"),
    ("decoder output", lambda: Autoencoder(Dense(8, 3), Dense(3, 7)), ValueError,
     r"decoder: output shape per sample \(7,\) does not match the input shape \(8,\)"),
    ("encoder type", lambda: Autoencoder("dense", Dense(3, 8)), TypeError,
     r"encoder: expected a Sequential, a Layer or a list of layers, got str"),
    ("Sequential item", lambda: Sequential([Dense(2, 2), "relu"]), TypeError,
     r"layers\[1\]: expected an npae Layer, got str"),
    # --- layer inputs --------------------------------------------------------------------------
    ("Dense width", lambda: dense_forward(X[:, :5]), ValueError,
     r"Dense\.forward: x must have shape \(N, 8\), got \(6, 5\)"),
    ("Dense rank", lambda: dense_forward(X[0]), ValueError,
     r"Dense\.forward: x must have 2 axes \(batch first\), got shape \(8,\)"),
    ("Dense images", lambda: dense_forward(X.reshape(6, 1, 8, 1)), ValueError,
     r"x must have 2 axes \(batch first\), got shape \(6, 1, 8, 1\)"),
    ("Dense dtype mix", lambda: dense_forward(X.astype(np.float64)), TypeError,
     r"Dense\.forward: x has dtype float64 but the layer's parameters are float32"),
    ("Dense int", lambda: dense_forward(np.ones((2, 8), np.int64)), TypeError,
     r"Dense\.forward: x must be float32 or float64, got dtype int64"),
    ("Dense list", lambda: dense_forward([[0.0] * 8]), TypeError, r"Dense\.forward: x must be a numpy array, got list"),
    ("activation int", lambda: Sigmoid().forward(np.arange(4).reshape(2, 2)), TypeError,
     r"Sigmoid\.forward: x must be float32 or float64, got dtype int"),
    ("LeakyReLU alpha", lambda: LeakyReLU(alpha=2), ValueError, r"alpha: expected a finite number in \[0, 1\), got 2"),
    # --- losses --------------------------------------------------------------------------------
    ("loss shapes", lambda: MSE().value(X, X[:, :4]), ValueError,
     r"MSE: pred and target must have the same shape, got \(6, 8\) and \(6, 4\)"),
    ("loss list", lambda: MSE().value(X.tolist(), X), TypeError, r"MSE: pred must be a numpy array, got list"),
    ("BCE target", lambda: BinaryCrossEntropy().value(X, X * 3), ValueError,
     r"BinaryCrossEntropy: target values must lie in \[0, 1\] .*got range \[0.*, 2\.\d+\]"),
    # --- optimizers ----------------------------------------------------------------------------
    ("lr 0", lambda: SGD(lr=0), ValueError, r"lr: expected a finite number > 0, got 0"),
    ("lr NaN", lambda: Adam(lr=float("nan")), ValueError, r"lr: expected a finite number > 0, got nan"),
    ("momentum", lambda: SGD(momentum=1.5), ValueError, r"momentum: expected a finite number in \[0, 1\), got 1\.5"),
    ("beta2", lambda: Adam(beta2=1.0), ValueError, r"beta2: expected a finite number in \[0, 1\), got 1\.0"),
    ("schedule", lambda: SGD(schedule=0.5), TypeError,
     r"schedule: expected a callable epoch -> learning rate factor, got 0\.5"),
    ("step_size", lambda: StepDecay(0), ValueError, r"step_size: expected an int >= 1, got 0"),
    # --- weights -------------------------------------------------------------------------------
    ("weights type", lambda: ae().set_weights([1, 2]), TypeError,
     r"weights: expected a dict \{qualified_name: array\}, got list"),
    ("weights names", lambda: ae().set_weights({"encoder.0.W": 0}), ValueError,
     r"weights: names do not match the model \(missing \[.*\], unexpected \[\]\)"),
    ("weights NaN", lambda: ae().set_weights({k: v * np.nan for k, v in ae().get_weights().items()}), ValueError,
     r"weights\['\w+\.0\.W'\]: expected finite values, got \d+ NaN or infinite entries"),
    ("load path", lambda: npae.load(None), TypeError, r"path: expected a str or os\.PathLike file name, got NoneType"),
    # --- image layers ------------------------------------------------------------------------
    ("conv channels", lambda: Conv2D(1, 4, 3).forward(IMAGES), ValueError,
     r"Conv2D\.forward: x must have 1 channels \(shape \(N, 1, H, W\)\), got shape \(2, 3, 5, 5\)"),
    ("conv rank", lambda: Conv2D(3, 4, 3).forward(IMAGES[:, 0]), ValueError,
     r"Conv2D\.forward: x must have 4 axes \(batch first\), got shape \(2, 5, 5\)"),
    ("conv too small", lambda: Conv2D(3, 4, 7).forward(IMAGES), ValueError,
     r"Conv2D\.forward: x is 5x5, too small for a 7x7 kernel with padding \(0, 0\)"),
    ("conv dtype mix", lambda: Conv2D(3, 4, 3).forward(IMAGES.astype(np.float64)), TypeError,
     r"Conv2D\.forward: x has dtype float64 but the layer's parameters are float32"),
    ("conv kernel 0", lambda: Conv2D(3, 4, 0), ValueError, r"kernel_size: expected ints >= 1, got 0"),
    ("conv kernel float", lambda: Conv2D(3, 4, 2.5), ValueError,
     r"kernel_size: expected an int or a pair of ints, got 2\.5"),
    ("conv stride triple", lambda: Conv2D(3, 4, 3, stride=(1, 2, 3)), ValueError,
     r"stride: expected an int or a pair of ints, got \(1, 2, 3\)"),
    ("conv padding", lambda: Conv2D(3, 4, 3, padding=-1), ValueError, r"padding: expected ints >= 0, got -1"),
    ("conv in_channels", lambda: Conv2D(0, 4, 3), ValueError, r"in_channels: expected an int >= 1, got 0"),
    ("convT out_channels", lambda: Conv2DTranspose(3, 0, 3), ValueError, r"out_channels: expected an int >= 1, got 0"),
    ("convT output_padding", lambda: Conv2DTranspose(3, 4, 3, stride=2, output_padding=2), ValueError,
     r"output_padding: expected values smaller than the stride \(2, 2\) \(as PyTorch\), got \(2, 2\)"),
    ("convT empty output", lambda: Conv2DTranspose(3, 4, 1, padding=3).forward(IMAGES), ValueError,
     r"Conv2DTranspose\.forward: x of shape \(2, 3, 5, 5\) gives an empty output \(4, -1, -1\)"),
    ("conv backward shape", lambda: backward_after_forward(Conv2D(3, 4, 3), np.zeros((2, 4, 2, 2), np.float32)),
     ValueError,
     r"Conv2D\.backward: dy must have the shape of the last output \(2, 4, 3, 3\), got \(2, 4, 2, 2\)"),
    ("pool backward dtype", lambda: backward_after_forward(MaxPool2D(2), np.zeros((2, 3, 2, 2))), TypeError,
     r"MaxPool2D\.backward: dy must have the output's dtype float32, got float64"),
    ("pool padding", lambda: MaxPool2D(2, padding=2), ValueError,
     r"padding: expected at most half the kernel size \(2, 2\) \(as PyTorch\), got \(2, 2\)"),
    ("pool too small", lambda: MaxPool2D(7).forward(IMAGES), ValueError,
     r"MaxPool2D\.forward: x is 5x5, too small for a 7x7 kernel"),
    ("pool stride", lambda: AvgPool2D(2, stride=0), ValueError, r"stride: expected ints >= 1, got 0"),
    ("pool rank", lambda: AvgPool2D(2).forward(X), ValueError,
     r"AvgPool2D\.forward: x must have 4 axes \(batch first\), got shape \(6, 8\)"),
    ("upsampling mode", lambda: UpSampling2D(2, mode="cubic"), ValueError,
     r"mode: expected one of \('nearest', 'bilinear'\), got 'cubic'"),
    ("upsampling scale", lambda: UpSampling2D(0), ValueError, r"scale: expected ints >= 1, got 0"),
    ("upsampling int", lambda: UpSampling2D(2).forward(np.zeros((1, 1, 2, 2), np.int64)), TypeError,
     r"UpSampling2D\.forward: x must be float32 or float64, got dtype int64"),
    ("conv AE flat X", lambda: conv_autoencoder(4).encode(np.zeros((4, 784), np.float32)), ValueError,
     r"X: expected shape \(N, 1, 28, 28\), got \(4, 784\)"),
    ("conv AE channels", lambda: conv_autoencoder(4).reconstruct(np.zeros((4, 3, 28, 28), np.float32)), ValueError,
     r"X: expected shape \(N, 1, 28, 28\), got \(4, 3, 28, 28\)"),
    # --- noise, penalties, VAE -----------------------------------------------------------------
    ("corruption", lambda: ae(corruption="mask"), TypeError,
     r"corruption: expected a noise object \(npae\.GaussianNoise.*got str"),
    ("masking fraction", lambda: MaskingNoise(1.5), ValueError, r"fraction: expected a finite number in \[0, 1\), got 1\.5"),
    ("noise sigma", lambda: GaussianNoise(0.0), ValueError, r"sigma: expected a finite number > 0, got 0\.0"),
    ("penalty type", lambda: ae(penalties=[0.1]), TypeError,
     r"penalties: expected penalty objects from npae\.core\.penalties, got float"),
    ("weight decay", lambda: WeightDecay(-1), ValueError, r"lam: expected a finite number >= 0, got -1"),
    ("L1 activity", lambda: L1Activity("big"), TypeError, r"lam: expected a finite number >= 0, got 'big'"),
    ("KL rho", lambda: KLSparsity(rho=1.5), ValueError, r"rho: expected a finite number in \(0, 1\), got 1\.5"),
    ("VAE latent_dim", lambda: VAE(mlp((8, 4)), mlp((2, 8)), latent_dim=0), ValueError,
     r"latent_dim: expected an int >= 1, got 0"),
    ("VAE likelihood", lambda: vae(likelihood="poisson"), ValueError,
     r"likelihood: expected one of \(.*'bernoulli'.*\), got 'poisson'"),
    ("VAE beta", lambda: vae(beta=-1), ValueError, r"beta: expected a finite number >= 0, got -1"),
    ("VAE encoder size", lambda: VAE(mlp((8, 6, 5)), mlp((2, 6, 8)), latent_dim=2), ValueError,
     r"encoder: must output 2 \* latent_dim = 4 values per sample \(mu, logvar\), got shape \(5,\)"),
    ("VAE pixels", lambda: fit(X * 2, model=vae()), ValueError,
     r"X: a Bernoulli VAE needs values in \[0, 1\], got range"),
    ("VAE labels", lambda: vae().prepare(X, np.zeros(6)), ValueError,
     r"y: an unconditional VAE takes no labels \(use ConditionalVAE\), got ndarray"),
    # --- gaps closed after the first audit -------------------------------------------------------
    ("momentum str", lambda: SGD(momentum="0.9"), TypeError, r"momentum: expected a finite number in \[0, 1\), got '0\.9'"),
    ("nesterov without momentum", lambda: SGD(nesterov=True), ValueError,
     r"nesterov: Nesterov momentum needs momentum > 0, got momentum=0"),
    ("adam eps", lambda: Adam(eps=0), ValueError, r"eps: expected a finite number > 0, got 0"),
    ("step_size float", lambda: StepDecay(2.5), TypeError, r"step_size: expected an int >= 1, got 2\.5"),
    ("Sequential of an int", lambda: Sequential(5), TypeError, r"layers: expected a list of npae Layers, got int"),
    ("add_penalty int", lambda: Sequential([Dense(2, 2)]).add_penalty(3), TypeError,
     r"penalty: expected a penalty from npae.core.penalties, got int"),
    ("labels to an autoencoder", lambda: ae().prepare(X, np.zeros(6)), ValueError,
     r"y: an Autoencoder is trained without labels \(got labels of shape \(6,\)\)"),
    ("decode wrong width", lambda: ae().decode(np.zeros((2, 5), np.float32)), ValueError,
     r"codes: expected shape \(N, 3\), got \(2, 5\)"),
]


@pytest.mark.parametrize("call, error, message", [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_table_is_large_and_its_ids_unique():
    assert len(ROWS) >= 30 and len({row[0] for row in ROWS}) == len(ROWS)


def test_failed_set_weights_changes_nothing():
    model = ae()
    before = model.get_weights()
    bad = {k: v + 1 for k, v in before.items()}
    bad["decoder.2.b"] = bad["decoder.2.b"] * np.nan  # the last array checked: nothing may be set before it
    with pytest.raises(ValueError, match=r"weights\['decoder\.2\.b'\]"):
        model.set_weights(bad)
    assert all(np.array_equal(model.get_weights()[k], v) for k, v in before.items())


# --- numbers: NumPy scalars are numbers like Python's (one validator, npae.core.checks.real_number) -----------

def _numpy_scalar_calls():
    """Every public argument checked as a real number, given as a NumPy float32/float64/int64 scalar."""
    from npae import (
        ELU, Contractive, CosineDecay, ExponentialDecay, KLSparsity, L1Activity, L1Weights, LeakyReLU,
        SaltAndPepperNoise, WeightDecay,
    )
    from npae.datasets import synthetic_digits
    from npae.manifold import TSNE
    from npae.models import KernelPCA

    f32, f64, i64 = np.float32, np.float64, np.int64
    return {
        "Adam lr float32": lambda: Adam(f32(1e-3)),
        "Adam betas, eps": lambda: Adam(f64(1e-3), beta1=f32(0.9), beta2=f64(0.999), eps=f32(1e-8)),
        "SGD lr int64": lambda: SGD(i64(1)),
        "SGD momentum float32": lambda: SGD(f32(0.1), momentum=f32(0.9), nesterov=True),
        "StepDecay": lambda: StepDecay(i64(2), gamma=f32(0.5)),
        "ExponentialDecay": lambda: ExponentialDecay(f64(0.9)),
        "CosineDecay": lambda: CosineDecay(i64(10), min_factor=f32(0.1)),
        "WeightDecay": lambda: WeightDecay(f32(1e-3)),
        "L1Weights": lambda: L1Weights(i64(1)),
        "L1Activity": lambda: L1Activity(f64(1e-3)),
        "KLSparsity": lambda: KLSparsity(rho=f32(0.05), beta=i64(3)),
        "Contractive": lambda: Contractive(f32(0.1)),
        "GaussianNoise": lambda: GaussianNoise(f32(0.3), clip=(f32(0), i64(1))),
        "MaskingNoise": lambda: MaskingNoise(f64(0.3)),
        "SaltAndPepperNoise": lambda: SaltAndPepperNoise(f32(0.1)),
        "LeakyReLU": lambda: LeakyReLU(f32(0.2)),
        "ELU": lambda: ELU(i64(1)),
        "VAE beta, free_bits": lambda: vae(beta=f32(4), free_bits=f64(0.5), seed=i64(3)),
        "VAE variance": lambda: vae(likelihood="gaussian", variance=f32(0.5)),
        "KernelPCA": lambda: KernelPCA(i64(2), gamma=f32(0.1), coef0=i64(1)),
        "TSNE": lambda: TSNE(perplexity=f32(5), learning_rate=i64(100), early_exaggeration=f64(4), n_iter=i64(10)),
        "synthetic_digits": lambda: synthetic_digits(i64(2), jitter=f32(0.5)),
        "fit": lambda: fit(epochs=i64(1), batch_size=i64(4), min_delta=f32(0), clip_norm=f32(1.0),
                           optimizer=SGD(f32(0.1))),
    }


@pytest.mark.parametrize("name", sorted(_numpy_scalar_calls()))
def test_numpy_scalars_are_accepted_as_numbers(name):
    built = _numpy_scalar_calls()[name]()
    config = getattr(built, "get_config", getattr(built, "config", None))
    if config is not None:  # stored as plain Python numbers, so a model file's JSON can hold them
        json.dumps(config())


def test_numpy_scalars_keep_their_value():
    assert Adam(np.float32(1e-3)).lr == pytest.approx(1e-3, rel=1e-7)
    assert SGD(np.int64(1)).lr == 1.0 and type(SGD(np.int64(1)).lr) is float


@pytest.mark.parametrize("value, error", [
    (np.bool_(True), TypeError), (True, TypeError), (np.float32("nan"), ValueError), (np.float64("inf"), ValueError),
    (np.float32(-1e-3), ValueError), (np.array([1e-3]), TypeError), ("1e-3", TypeError),
])
def test_what_is_not_a_learning_rate_is_still_refused(value, error):
    with pytest.raises(error, match=r"lr: expected a finite number > 0, got"):
        Adam(value)
