"""The image demo of contrastive methods: handwritten digits laid over a natural texture.

Abid et al. (2018) and the bcNMF paper (Li, Yang & Li 2026) superimpose MNIST digits 0 and 1 on
ImageNet grass as the target and use grass alone as the background: the texture dominates the
pixel variance, so PCA and NMF of the target see grass, while a contrastive method sees digits.
This version is built from data that ship with scikit-learn (``load_digits``) and scikit-image
(``grass.png``), so it needs no download.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch

#: Side of the square images, in pixels.
IMAGE_SIDE = 24
#: Factor by which the 512 x 512 grass photograph is shrunk before patches are cut: about 100 x 100
#: pixels, the size Abid et al. shrank their grass photographs to.
TEXTURE_SHRINK = 5
#: Weight of a digit over its grass patch, as in Abid et al.: the texture dominates the variance.
DIGIT_WEIGHT = 0.25


def _grass() -> np.ndarray:
    try:
        from skimage import data
    except ImportError as err:  # scikit-image is an optional dependency
        raise ImportError("digits_on_texture needs scikit-image for its grass photograph: "
                          "pip install scikit-image") from err
    return data.grass().astype(np.float64) / 255.0


def _shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor x factor`` block."""
    rows, cols = (side - side % factor for side in image.shape)
    return image[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))


def _upscale(digits: np.ndarray, side: int) -> np.ndarray:
    """8 x 8 digit images enlarged to ``side x side`` by bilinear interpolation."""
    from scipy.ndimage import zoom

    return np.stack([np.clip(zoom(digit, side / digit.shape[0], order=1), 0.0, 1.0) for digit in digits])


def _patches(texture: np.ndarray, n: int, side: int, rng: np.random.Generator) -> np.ndarray:
    rows = rng.integers(0, texture.shape[0] - side + 1, size=n)
    cols = rng.integers(0, texture.shape[1] - side + 1, size=n)
    return np.stack([texture[r:r + side, c:c + side] for r, c in zip(rows, cols)])


def digits_on_texture(n_background: int | None = None, *, digits: tuple[int, ...] = (0, 1),
                      digit_weight: float = DIGIT_WEIGHT, seed: int = 0) -> Bunch:
    """Digits over grass as the target, grass alone as the background; pixel values in [0, 1].

    Every image of ``digits`` in scikit-learn's ``load_digits`` (8 x 8, about 180 of each digit) is
    enlarged to 24 x 24 and laid over its own random patch of scikit-image's grass photograph
    (shrunk five times): ``target = (digit_weight * digit + patch) / (1 + digit_weight)``. The
    background holds other random grass patches, scaled the same way, so that the two datasets
    differ only by the digits.

    Parameters
    ----------
    n_background : int, optional
        Number of background images; by default as many as target images.
    digits : tuple of int
        Which digits make the target.
    digit_weight : float
        Weight of the digit over the texture (0.25 in Abid et al.; larger is easier).
    seed : int
        Seed of the patch positions.

    Returns
    -------
    Bunch with
        ``target`` (n_target, 576) and ``background`` (n_background, 576): float32 pixels, rows are
        images flattened row by row; ``target_labels``: the digit of each target image;
        ``image_shape``: (24, 24).
    """
    rng = np.random.default_rng(seed)
    bunch = load_digits()
    keep = np.isin(bunch.target, digits)
    images = _upscale(bunch.images[keep] / 16.0, IMAGE_SIDE)
    texture = _shrink(_grass(), TEXTURE_SHRINK)
    n_target = len(images)
    n_background = n_target if n_background is None else n_background
    scale = 1.0 + digit_weight
    target = (digit_weight * images + _patches(texture, n_target, IMAGE_SIDE, rng)) / scale
    background = _patches(texture, n_background, IMAGE_SIDE, rng) / scale
    flat = (n_target, IMAGE_SIDE * IMAGE_SIDE)
    return Bunch(
        target=target.reshape(flat).astype(np.float32),
        background=background.reshape(n_background, -1).astype(np.float32),
        target_labels=bunch.target[keep],
        image_shape=(IMAGE_SIDE, IMAGE_SIDE),
    )
