"""Fitting a conversion matrix without labels: PCA, whitening, FastICA, NMF."""

import numpy as np
import pytest

from training.conversion_fit import fit_conversion_matrix
from training.errors import TrainingError

pytest.importorskip("sklearn")


def _correlated_image(seed=0, size=64):
    rng = np.random.default_rng(seed)
    base = rng.random((size, size, 1))
    return np.clip(np.concatenate([base, 0.5 * base + 0.2 * rng.random((size, size, 1)),
                                   rng.random((size, size, 1)) * 0.1], axis=2), 0, 1)


def test_pca_rows_are_orthonormal_and_in_variance_order():
    m = fit_conversion_matrix([_correlated_image()], "pca", components=3, patch=1)
    np.testing.assert_allclose(m.matrix @ m.matrix.T, np.eye(3), atol=1e-8)
    variances = np.var(m.apply(_correlated_image()).reshape(-1, 3), axis=0)
    assert variances[0] > variances[1] > variances[2]


def test_whitened_layers_have_unit_variance():
    m = fit_conversion_matrix([_correlated_image()], "whiten", components=2, patch=1, samples=4000)
    variances = np.var(m.apply(_correlated_image()).reshape(-1, 2), axis=0)
    np.testing.assert_allclose(variances, 1.0, rtol=0.1)


def test_ica_recovers_known_mixed_sources():
    rng = np.random.default_rng(5)
    size = 96
    squares = (np.indices((size, size)).sum(axis=0) // 8 % 2).astype(float)   # a checkerboard
    spots = (rng.random((size, size)) > 0.97).astype(float)                     # sparse stars
    mixing = np.array([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])
    image = np.stack([squares, spots], axis=-1) @ mixing.T                       # (H, W, 3)
    m = fit_conversion_matrix([image], "ica", components=2, patch=1, samples=size * size)
    layers = m.apply(image).reshape(-1, 2)
    sources = np.stack([squares.ravel(), spots.ravel()], axis=1)
    corr = np.abs(np.corrcoef(layers.T, sources.T)[:2, 2:])
    # Each source is recovered by one layer, up to sign and scale.
    assert corr.max(axis=0).min() > 0.95


def test_nmf_parts_are_non_negative_and_reconstruct():
    image = _correlated_image(3)
    m = fit_conversion_matrix([image], "nmf", components=2, patch=1)
    parts = np.array(m.params["parts"])
    assert parts.shape == (2, 3) and parts.min() >= 0
    weights = m.apply(image).reshape(-1, 2)
    error = np.abs(weights @ parts - image.reshape(-1, 3)).mean()
    assert error < 0.05


def test_patch_matrix_dimension_is_k_k_c():
    m = fit_conversion_matrix([_correlated_image()], "pca", components=4, patch=3)
    assert m.matrix.shape == (4, 27) and m.conv_kernel().shape == (3, 3, 3, 4)


def test_too_many_components_is_refused():
    with pytest.raises(TrainingError, match="components"):
        fit_conversion_matrix([_correlated_image()], "pca", components=4, patch=1)


@pytest.mark.parametrize("method", ["pca", "whiten", "ica", "nmf"])
def test_an_image_with_fewer_pixels_than_components_is_refused_in_words(method):
    with pytest.raises(TrainingError, match="1 pixel vectors are too few to fit 3 components"):
        fit_conversion_matrix([np.full((1, 1, 3), 0.5)], method, 3)
