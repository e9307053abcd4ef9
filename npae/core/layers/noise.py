"""Input corruptions for denoising autoencoders: Gaussian noise, masking noise, salt-and-pepper noise.

A denoising autoencoder (Vincent et al. 2008, 2010) reconstructs the *clean* input ``x`` from a corrupted copy
``x~ = c(x)``; it cannot simply copy its input, so it has to learn what digits look like. Each corruption here
is used in two ways:

- ``corrupt(x, rng)`` returns a new corrupted array (same dtype, ``x`` untouched). ``Autoencoder(corruption=...)``
  calls it on every training batch with the generator of the fit loop, and compares the output with ``x``.
- As a layer inside a ``Sequential``: ``forward(x, training=True)`` corrupts with the layer's own generator
  (``rng=`` seed); ``forward(x, training=False)`` returns ``x`` unchanged, so inference sees clean inputs.

Backward: every corruption is ``x~ = keep * g(x) + (1 - keep) * r`` where ``r`` does not depend on ``x``, so
``dx = dy * keep * g'(x)``. For masking and salt-and-pepper the kept elements pass ``dy`` unchanged and the
overwritten ones get 0; Gaussian noise is the identity, except that clipping to ``clip`` zeroes the gradient of
the elements it clipped (they no longer move with ``x``).

This is not dropout: masking zeroes inputs *without* rescaling the survivors by ``1/(1-p)``, as in the
original denoising autoencoder, and only during training.

The same seed gives the same corruption in float32 and float64 (draws are made in float64, then cast).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..checks import as_generator, check_float_array, real_number
from ..registry import serializable
from .base import Layer


class Corruption(Layer):
    """Base class: subclasses implement ``_draw(x, rng) -> (x~, keep)`` where ``keep`` is where ``dx = dy``.

    ``keep`` is a boolean array (or None when every element passes its gradient through unchanged).
    """

    def __init__(self, rng=None, name=None):
        super().__init__(name=name)
        self.seed = int(rng) if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)) else None
        self.rng = as_generator(rng)

    def corrupt(self, x, rng):
        """A corrupted copy of ``x`` (same dtype); ``rng`` is a Generator or an int seed."""
        check_float_array(x, f"{type(self).__name__}.corrupt")
        return self._draw(x, as_generator(rng))[0]

    def forward(self, x, training=False):
        """``y = c(x)`` when training (the layer's own generator), ``y = x`` at inference."""
        check_float_array(x, f"{type(self).__name__}.forward")
        if not training:
            self._keep = None
            return x
        y, self._keep = self._draw(x, self.rng)
        return y

    def backward(self, dy):
        """``dx = dy * keep``: the gradient flows through the elements the corruption did not overwrite."""
        keep = self._saved("_keep")
        if keep is None:
            return dy.copy()
        return np.where(keep, dy, 0).astype(dy.dtype, copy=False)

    def _draw(self, x, rng):
        raise NotImplementedError(f"{type(self).__name__} must implement _draw(x, rng) -> (corrupted x, keep)")

    def get_config(self):
        return {"rng": self.seed}


@serializable
class GaussianNoise(Corruption):
    """Additive isotropic noise ``x~ = x + sigma * e``, ``e ~ N(0, I)``, then clipped to ``clip`` (None: no clip).

    ``clip=(0, 1)`` (the default) keeps corrupted pixels valid intensities, so a BCE model still sees [0, 1].
    Backward: ``dx = dy`` where ``x~`` was not clipped, 0 where it was.
    """

    def __init__(self, sigma, clip=(0.0, 1.0), rng=None, name=None):
        super().__init__(rng=rng, name=name)
        self.sigma = real_number(sigma, "sigma", low=0.0, include_low=False)
        self.clip = self._check_clip(clip)

    @staticmethod
    def _check_clip(clip):
        if clip is None:
            return None
        if not isinstance(clip, (tuple, list)) or len(clip) != 2:
            raise ValueError(f"clip: expected None or a pair (low, high), got {clip!r}")
        low = real_number(clip[0], "clip[0]")
        high = real_number(clip[1], "clip[1]")
        if not low < high:
            raise ValueError(f"clip: expected low < high, got {clip!r}")
        return (low, high)

    def _draw(self, x, rng):
        noisy = x + (self.sigma * rng.standard_normal(x.shape)).astype(x.dtype)
        if self.clip is None:
            return noisy, None
        low, high = self.clip
        keep = (noisy >= low) & (noisy <= high)
        return np.clip(noisy, low, high).astype(x.dtype, copy=False), keep

    def get_config(self):
        return {"sigma": self.sigma, "clip": list(self.clip) if self.clip else None, **super().get_config()}


@serializable
class MaskingNoise(Corruption):
    """Each element is independently set to 0 with probability ``fraction`` (nu): ``x~ = x * [u >= nu]``.

    ``u ~ Uniform[0, 1)``, one per element. No rescaling of the kept elements (this is not dropout).
    Backward: ``dx = dy * [u >= nu]``.
    """

    def __init__(self, fraction, rng=None, name=None):
        super().__init__(rng=rng, name=name)
        self.fraction = real_number(fraction, "fraction", low=0.0, high=1.0, include_high=False)

    def _draw(self, x, rng):
        keep = ~(rng.random(x.shape) < self.fraction)
        return x * keep, keep

    def get_config(self):
        return {"fraction": self.fraction, **super().get_config()}


@serializable
class SaltAndPepperNoise(Corruption):
    """Each element independently, with probability ``fraction``, is set to 0 or 1 with equal chance.

    ``x~ = x`` where ``u >= fraction``; elsewhere ``x~ = [v < 1/2]`` (salt 1 or pepper 0), ``u, v`` uniform.
    Backward: ``dx = dy * [u >= fraction]`` (an overwritten element no longer depends on ``x``).
    """

    def __init__(self, fraction, rng=None, name=None):
        super().__init__(rng=rng, name=name)
        self.fraction = real_number(fraction, "fraction", low=0.0, high=1.0, include_high=False)

    def _draw(self, x, rng):
        hit = rng.random(x.shape) < self.fraction
        salt = rng.random(x.shape) < 0.5
        return np.where(hit, salt, x).astype(x.dtype, copy=False), ~hit

    def get_config(self):
        return {"fraction": self.fraction, **super().get_config()}
