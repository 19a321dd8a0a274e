"""Fits a conversion matrix without labels from the pixels of images, in about a second.

Seed 000 needed 11 hours; sampling pixels and using randomized / fixed-point solvers
makes it interactive. The fitted matrix is an `edge_service.conversion.ConversionMatrix`.
"""

from __future__ import annotations

import numpy as np

from edge_service.conversion import FITTED_METHODS, FIXED_METHODS, ConversionMatrix, fixed_matrix
from training.errors import TrainingError

DEFAULT_SAMPLES = 20_000


def sample_pixel_vectors(images: list[np.ndarray] | np.ndarray, patch: int,
                         samples: int = DEFAULT_SAMPLES, seed: int = 0) -> np.ndarray:
    """Up to `samples` random patch vectors (N, k*k*C), drawn evenly from all images."""
    rng = np.random.default_rng(seed)
    images = [np.asarray(im, dtype=np.float64) for im in images]
    images = [im[:, :, None] if im.ndim == 2 else im for im in images]
    if not images:
        raise TrainingError("no images to fit the conversion matrix on")
    per_image = max(1, samples // len(images))
    picked = []
    for im in images:
        h, w, _ = im.shape
        n = min(per_image, h * w)
        ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
        r = patch // 2
        padded = np.pad(im, ((r, r), (r, r), (0, 0)))
        # Only the sampled windows are cut out, so a megapixel image costs nothing extra.
        picked.append(np.stack([padded[y:y + patch, x:x + patch, :].reshape(-1)
                                for y, x in zip(ys, xs)]))
    vectors = np.concatenate(picked)
    if len(vectors) > samples:
        vectors = vectors[rng.choice(len(vectors), samples, replace=False)]
    return vectors


def matrix_for_method(method: str, images, components: int, patch: int,
                      samples: int = DEFAULT_SAMPLES, seed: int = 0) -> ConversionMatrix:
    """A fixed matrix by name (its own patch size, except identity), or one fitted on `images`."""
    if method in FIXED_METHODS:
        channels = np.asarray(images[0]).shape[-1] if np.ndim(images[0]) == 3 else 1
        return fixed_matrix(method, channels, patch if method == "identity" else None)
    if method not in FITTED_METHODS:
        raise TrainingError(f"unknown conversion {method!r}; choose from {', '.join(FITTED_METHODS + FIXED_METHODS)}"
                            f", or a matrix .json/.csv")
    return fit_conversion_matrix(images, method, components, patch, samples, seed)


def fit_conversion_matrix(images, method: str = "pca", components: int = 3, patch: int = 1,
                          samples: int = DEFAULT_SAMPLES, seed: int = 0) -> ConversionMatrix:
    """Fits M and mu on pixel vectors of `images` (each (H, W) or (H, W, C), floats)."""
    if method not in FITTED_METHODS:
        raise TrainingError(f"unknown fitting method {method!r}; choose from {', '.join(FITTED_METHODS)}")
    vectors = sample_pixel_vectors(images, patch, samples, seed)
    dim = vectors.shape[1]
    channels = dim // (patch * patch)
    if not 1 <= components <= dim:
        raise TrainingError(f"components must be between 1 and {dim} (= patch*patch*channels) for this input")
    # Every method estimates `components` directions from the pixels: it needs more of them than that.
    if len(vectors) <= components:
        raise TrainingError(f"{len(vectors)} pixel vectors are too few to fit {components} components; "
                            f"give larger or more images")
    fit = {"pca": _fit_pca, "whiten": _fit_whiten, "ica": _fit_ica, "nmf": _fit_nmf}[method]
    matrix, mean, params = fit(vectors, components, seed)
    params.update({"samples": int(len(vectors)), "seed": seed})
    return ConversionMatrix(method, patch, channels, matrix, mean, params=params)


def _fit_pca(x: np.ndarray, k: int, seed: int):
    from sklearn.decomposition import PCA
    pca = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit(x)
    rows = _positive_sign(pca.components_)
    return rows, pca.mean_, {"explained_variance_ratio": pca.explained_variance_ratio_.tolist()}


def _fit_whiten(x: np.ndarray, k: int, seed: int):
    rows, mean, params = _fit_pca(x, k, seed)
    std = np.std((x - mean) @ rows.T, axis=0)
    return rows / np.maximum(std, 1e-12)[:, None], mean, params


def _fit_ica(x: np.ndarray, k: int, seed: int):
    import warnings
    from sklearn.decomposition import FastICA
    from sklearn.exceptions import ConvergenceWarning
    ica = FastICA(n_components=k, whiten="unit-variance", random_state=seed, max_iter=400, tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sources = ica.fit_transform(x)
    # Most non-Gaussian (highest |excess kurtosis|) first: those are the sources that stand out.
    kurt = np.abs(np.mean(sources ** 4, axis=0) - 3.0)
    order = np.argsort(-kurt)
    rows = _positive_sign(ica.components_[order], sources[:, order])
    return rows, ica.mean_, {"excess_kurtosis": kurt[order].tolist(), "iterations": int(ica.n_iter_)}


def _fit_nmf(x: np.ndarray, k: int, seed: int):
    import warnings
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    if x.min() < 0:
        raise TrainingError("NMF needs non-negative pixel values")
    nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    with warnings.catch_warnings():
        # 400 iterations is plenty for a display matrix; the reconstruction error is recorded.
        warnings.simplefilter("ignore", ConvergenceWarning)
        nmf.fit(x)
    parts = nmf.components_  # (K, D), non-negative additive parts
    # The layer is the least-squares weight of each part: a linear map, so it fits a Conv2D.
    rows = np.linalg.pinv(parts).T
    return rows, np.zeros(x.shape[1]), {"parts": parts.tolist(), "iterations": int(nmf.n_iter_),
                                        "reconstruction_error": float(nmf.reconstruction_err_)}


def _positive_sign(rows: np.ndarray, sources: np.ndarray | None = None) -> np.ndarray:
    """Flips each row so that the layer is mostly positive where it is strong."""
    rows = rows.copy()
    for i, row in enumerate(rows):
        ref = row if sources is None else sources[:, i]
        if ref[np.argmax(np.abs(ref))] < 0:
            rows[i] = -row
    return rows
