"""The deterministic autoencoder: ``x_hat = g(f(x))``, trained to reconstruct its (clean) input.

``code = f(x)`` is the encoder, ``g`` the decoder. The training objective on a batch is

    L = loss(g(f(c(x))), x) + sum_k penalty_k

where ``c`` is an optional corruption (denoising autoencoder, training only) and the penalties are the
regularisers of ``npae.penalties`` (weight decay, L1 activity, KL sparsity, contractive).
"""

from __future__ import annotations

import numpy as np

from .. import training
from ..backends import ops
from ..core.checks import check_data, check_shape, positive_int, value_range
from ..core.layers import Layer, Sequential
from ..core.layers.base import ANY_VALUE
from ..core.losses import get_loss
from ..core.registry import deserialize, serializable, serialize
from .base import Model


def _as_sequential(net, name):
    if isinstance(net, Sequential):
        return net
    if isinstance(net, (list, tuple)):
        return Sequential(net)
    if isinstance(net, Layer):
        return Sequential([net])
    raise TypeError(f"{name}: expected a Sequential, a Layer or a list of layers, got {type(net).__name__}")


def infer_input_shape(net):
    """The per-sample input shape a network's first layer declares (Dense: ``(in,)``; Conv2D: None)."""
    for layer in net.layers:
        if hasattr(layer, "in_features"):
            return (layer.in_features,)
        if layer.params:
            return None
    return None


def check_reachable(X, decoder, name):
    """Refuse targets outside the range the decoder's output can take: a sigmoid output cannot reconstruct 255.

    The range comes from the decoder's layers (``Layer.output_range``): [0, 1] after a sigmoid, [-1, 1] after a
    tanh, anything after a linear layer (then there is nothing to check and the data are not scanned).
    """
    low, high = decoder.output_range()
    if (low, high) == ANY_VALUE:
        return
    lowest, highest = value_range(X)  # in chunks of rows: a memory-mapped X is not copied
    if low <= lowest and highest <= high:
        return
    bounding = [layer for layer in decoder.layers if layer.output_range() != ANY_VALUE]
    ending = type(bounding[-1]).__name__ if bounding else "its layers"
    if 0 <= low and high <= 1 and lowest >= 0 and highest <= 255:
        fix = "Scale pixels with X / 255"
    elif (low, high) == (-1.0, 1.0) and lowest >= 0 and highest <= 255:
        fix = "Scale pixels with X / 127.5 - 1"
    else:
        fix = f"Scale or shift the data into [{low:g}, {high:g}]"
    raise ValueError(
        f"{name}: the decoder ends in {ending}, so its output lies in [{low:g}, {high:g}], but {name} ranges over "
        f"[{lowest:.4g}, {highest:.4g}]: the model cannot reconstruct it. {fix}, or end the decoder "
        "with no activation"
    )


@serializable
class Autoencoder(Model):
    """``Autoencoder(encoder, decoder, loss="mse", penalties=(), corruption=None, input_shape=None)``.

    - ``loss``: ``"mse"``, ``"bce"`` (the decoder then outputs logits; reconstructions are their sigmoid)
      or a ``Loss`` instance.
    - ``penalties``: regularisers from ``npae.penalties``, each attached to its layer when the model is built.
    - ``corruption``: a noise object (``npae.GaussianNoise``, ``MaskingNoise``, ``SaltAndPepperNoise``) applied to the input during training only.
    - ``input_shape``: per-sample input shape (without batch); inferred from a first Dense layer. When known,
      the model checks once, by a dry forward pass, that the decoder gives back that shape.
    """

    def __init__(self, encoder, decoder, loss="mse", penalties=(), corruption=None, input_shape=None):
        self.encoder = _as_sequential(encoder, "encoder")
        self.decoder = _as_sequential(decoder, "decoder")
        self.loss = get_loss(loss)
        if corruption is not None and not hasattr(corruption, "corrupt"):
            raise TypeError(
                f"corruption: expected a noise object (npae.GaussianNoise, npae.MaskingNoise, "
                f"npae.SaltAndPepperNoise), got {type(corruption).__name__}"
            )
        self.corruption = corruption
        self.penalties = list(penalties)
        for p in self.penalties:
            if not hasattr(p, "bind"):
                raise TypeError(f"penalties: expected penalty objects from npae.core.penalties, got {type(p).__name__}")
            p.bind(self)
        self.input_shape = check_shape(input_shape, "input_shape") if input_shape is not None else infer_input_shape(self.encoder)
        self.optimizer = None
        if self.input_shape is not None:
            self._dry_run()

    def modules(self):
        return [("encoder", self.encoder), ("decoder", self.decoder)]

    def _dry_run(self):
        """Push two zero samples through encoder and decoder once, to catch mismatched shapes early."""
        x = np.zeros((2,) + self.input_shape, dtype=self.dtype)
        try:
            out = self.decoder.forward(self.encoder.forward(x))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"encoder/decoder: a dry forward pass on input shape {self.input_shape} failed: {exc}") from exc
        if out.shape[1:] != self.input_shape:
            raise ValueError(
                f"decoder: output shape per sample {out.shape[1:]} does not match the input shape {self.input_shape}"
            )

    # --- data ---------------------------------------------------------------------------------
    def prepare(self, X, y=None, name="X"):
        if y is not None:
            raise ValueError(
                f"y: an Autoencoder is trained without labels (got labels of shape {np.shape(y)}); "
                "use ConditionalVAE for label-conditioned models"
            )
        bce = "a BCE (Bernoulli) autoencoder" if self.loss.output_activation == "sigmoid" else None
        X = check_data(X, name, self.dtype, self.input_shape, unit_interval_for=bce)
        if self.loss.output_activation is None:
            check_reachable(X, self.decoder, name)
        return X, None

    # --- inference ----------------------------------------------------------------------------
    def _batched(self, fn, X, batch_size):
        """``fn`` applied batch by batch, written into one preallocated result: the input is read one batch at a
        time (a memory-mapped ``X`` is never loaded whole) and the output is allocated once."""
        batch_size = positive_int(batch_size, "batch_size")
        out = None
        for start in range(0, X.shape[0], batch_size):
            part = fn(X[start : start + batch_size])
            if out is None:
                out = np.empty((X.shape[0],) + part.shape[1:], dtype=part.dtype)
            out[start : start + len(part)] = part
        return out

    def encode(self, X, batch_size=1000):
        """The codes ``f(x)`` (N, code_dim) of clean inputs."""
        X = check_data(X, "X", self.dtype, self.input_shape)
        return self._batched(self.encoder.forward, X, batch_size)

    def decode(self, codes, batch_size=1000):
        """Reconstructions ``g(code)``, with the loss's output activation (sigmoid for BCE) applied."""
        codes = check_data(codes, "codes", self.dtype, infer_input_shape(self.decoder))
        return self._batched(lambda c: self._output(self.decoder.forward(c)), codes, batch_size)

    def reconstruct(self, X, batch_size=1000):
        """``x_hat = g(f(x))`` for clean inputs."""
        X = check_data(X, "X", self.dtype, self.input_shape)
        return self._batched(lambda x: self._output(self.decoder.forward(self.encoder.forward(x))), X, batch_size)

    def _output(self, raw):
        return ops.sigmoid(raw) if self.loss.output_activation == "sigmoid" else raw

    def per_sample_loss(self, X, batch_size=1000):
        """Reconstruction loss of each sample (clean input, no penalties), e.g. for best/worst figures."""
        X, _ = self.prepare(X)
        return self._batched(
            lambda x: self.loss.per_sample(self.decoder.forward(self.encoder.forward(x)), x), X, batch_size
        )

    def evaluate(self, X, y=None, batch_size=1000):
        """``{"loss": mean reconstruction loss}`` on clean inputs (penalties not included)."""
        return {"loss": float(self.per_sample_loss(X, batch_size).mean())}

    # --- training -----------------------------------------------------------------------------
    def train_batch(self, xb, yb, rng):
        """One forward/backward pass; gradients are left in each layer's ``grads``."""
        x_in = self.corruption.corrupt(xb, rng) if self.corruption is not None else xb
        code = self.encoder.forward(x_in, training=True)
        out = self.decoder.forward(code, training=True)
        recon, dout = self.loss.value_and_grad(out, xb)
        dcode = self.decoder.backward(dout)
        self.encoder.backward(dcode, need_input_grad=False)
        penalty = self.encoder.penalty_value + self.decoder.penalty_value
        for p in self.penalties:
            if hasattr(p, "apply_to_parameters"):
                penalty += p.apply_to_parameters(self)
        return {"loss": recon + penalty, "recon": recon, "penalty": penalty}

    def fit(self, X, *, y=None, epochs=10, batch_size=200, validation_data=None, optimizer=None, seed=0, **kwargs):
        """Train with minibatch gradient descent; returns a ``History`` (see ``npae.training.fit``).

        ``y`` must stay None: an autoencoder learns from its inputs alone (the argument exists so that every
        model's ``fit`` has the same shape)."""
        return training.fit(
            self, X, y=y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
            optimizer=optimizer, seed=seed, **kwargs,
        )

    def get_config(self):
        return {
            "encoder": serialize(self.encoder),
            "decoder": serialize(self.decoder),
            "loss": serialize(self.loss),
            "penalties": [serialize(p) for p in self.penalties],
            "corruption": serialize(self.corruption) if self.corruption is not None else None,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
        }

    @classmethod
    def from_config(cls, config):
        return cls(
            deserialize(config["encoder"]),
            deserialize(config["decoder"]),
            loss=deserialize(config["loss"]),
            penalties=[deserialize(p) for p in config.get("penalties", [])],
            corruption=deserialize(config["corruption"]) if config.get("corruption") else None,
            input_shape=config.get("input_shape"),
        )

    def __repr__(self):
        return f"Autoencoder(\n encoder={self.encoder.describe()},\n decoder={self.decoder.describe()},\n loss={self.loss})"
