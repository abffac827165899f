"""Batched image filters and resampling used by the corruptions: separable filters with the reference libraries'
border modes, Gaussian and disk kernels, clipped zoom, plasma fractals, ImageMagick-style motion blur, Pillow's
BOX resize and pixel-exact grid sampling. Inputs are float tensors in 0..255 units unless stated otherwise.

They re-implement what ``ImageNet-C/create_c/make_cifar_c.py`` (hendrycks/robustness) takes from scikit-image,
SciPy, OpenCV, ImageMagick and Pillow; see ``corruptions.py`` for the deviations.
"""

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

SIZE = 32  # CIFAR images are 32 x 32
_NEGLIGIBLE_TAP = 1e-9  # motion blur taps below this weight change outputs by < 1e-6 grey levels; skipped
_TRUNCATION_SLACK = 1e-3  # in 0..255 units: float error must not turn an exact k into k - 1

def to_unit(images):
    """uint8 [0, 255] -> float32 [0, 1]."""
    return images.float() / 255.0


def truncate_to_uint8(unit):
    """float [0, 1] -> uint8 by clipping and truncating ``255 * x``, as the reference's ``np.uint8``."""
    return (unit.clamp(0.0, 1.0) * 255.0 + _TRUNCATION_SLACK).floor().to(torch.uint8)


def uniform(shape, low, high, generator):
    """float32 draws from U(low, high) of the given shape, from ``generator``."""
    return low + (high - low) * torch.rand(shape, generator=generator)


def pad_index(n, pad, mode):
    """Source indices for padding a length-n axis by ``pad`` on both sides.

    ``edge`` repeats the border (SciPy 'nearest', ImageMagick's default), ``reflect101`` mirrors about the
    border pixel (OpenCV's default, ``dcb|abcd``), ``symmetric`` mirrors about the border edge (SciPy
    'reflect', ``dcba|abcd``).
    """
    index = torch.arange(-pad, n + pad)
    if mode == "edge":
        return index.clamp(0, n - 1)
    if mode == "reflect101":
        period = 2 * (n - 1)
        index = index.remainder(period)
        return torch.where(index >= n, period - index, index)
    if mode == "symmetric":
        period = 2 * n
        index = index.remainder(period)
        return torch.where(index >= n, period - 1 - index, index)
    raise ValueError(f"unknown padding mode {mode!r}")


def filter_matrix(taps, n, mode):
    """The n x n matrix of a 1-D correlation with odd-length ``taps`` whose border is padded with ``mode``."""
    radius = taps.numel() // 2
    source = pad_index(n, radius, mode).unfold(0, taps.numel(), 1)  # [n, taps]: input read by output o, tap t
    matrix = torch.zeros(n, n, dtype=torch.float64)
    matrix.scatter_add_(1, source, taps.double().expand(n, -1))
    return matrix.float()


def apply_separable(row_matrix, x, column_matrix=None):
    """Apply a 1-D linear map to the columns and another (default: the same) to the rows of x [..., n, n]."""
    column_matrix = row_matrix if column_matrix is None else column_matrix
    return torch.einsum("ij,...jk,lk->...il", row_matrix, x, column_matrix)


def gaussian_taps(sigma, truncate):
    """SciPy's 1-D Gaussian: radius int(truncate * sigma + 0.5), weights exp(-x^2 / (2 sigma^2)) / sum."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (x / sigma) ** 2) if sigma > 0 else (x == 0).double()
    return taps / taps.sum()


def gaussian_filter(x, sigma, mode, truncate=4.0):
    """Gaussian blur of the last two axes, as ``scipy.ndimage.gaussian_filter`` (used by skimage ``gaussian``)."""
    return apply_separable(filter_matrix(gaussian_taps(sigma, truncate), x.shape[-1], mode), x)


def filter2d(x, kernel, mode):
    """Correlate the last two axes of ``x`` with a square, odd-sized ``kernel``, borders padded with ``mode``.

    The kernel is split by SVD into a sum of separable (outer product) kernels, each applied as two matrices.
    """
    u, s, vh = torch.linalg.svd(kernel.double())
    out = torch.zeros_like(x)
    for k in range(int((s > 1e-9 * s[0]).sum())):
        rows = filter_matrix(u[:, k] * s[k], x.shape[-2], mode)
        out += apply_separable(rows, x, filter_matrix(vh[k], x.shape[-1], mode))
    return out


def clipped_zoom_matrix(factor, n=SIZE):
    """The n x n matrix M with ``M @ column`` = the reference's ``clipped_zoom`` along one axis.

    Crop the central ceil(n / factor) pixels, resize them to round(crop * factor) with SciPy's order-1
    ``zoom`` (corner-aligned: output o samples input o * (crop - 1) / (out - 1)), keep the central n.
    """
    crop = int(np.ceil(n / factor))
    top = (n - crop) // 2
    out = int(round(crop * factor))
    trim = (out - n) // 2
    source = top + (np.arange(n) + trim) * (crop - 1) / (out - 1)
    lower = np.minimum(np.floor(source).astype(int), top + crop - 1)
    weight = source - lower
    upper = np.minimum(lower + 1, top + crop - 1)
    matrix = np.zeros((n, n))
    np.add.at(matrix, (np.arange(n), lower), 1.0 - weight)
    np.add.at(matrix, (np.arange(n), upper), weight)
    return torch.from_numpy(matrix).float()


def plasma_fractal(count, decay, generator, mapsize=SIZE):
    """``count`` diamond-square height maps in [0, 1] (the reference's ``plasma_fractal``, batched).

    Each refinement sets a new point to the mean of its 4 neighbours (wrapping around) plus
    wibble * U(-wibble, wibble); wibble starts at 100 and is divided by ``decay`` per level.
    """
    maps = torch.zeros(count, mapsize, mapsize)
    step, wibble = mapsize, 100.0

    def wibbled_mean(total):
        return total / 4 + wibble * uniform(total.shape, -wibble, wibble, generator)

    while step >= 2:
        half = step // 2
        corners = maps[:, ::step, ::step]
        squares = corners + corners.roll(-1, dims=1)
        squares = squares + squares.roll(-1, dims=2)
        maps[:, half::step, half::step] = wibbled_mean(squares)
        centres, corners = maps[:, half::step, half::step], maps[:, ::step, ::step]
        left = centres + centres.roll(1, dims=1) + corners + corners.roll(-1, dims=2)
        maps[:, ::step, half::step] = wibbled_mean(left)
        top = centres + centres.roll(1, dims=2) + corners + corners.roll(-1, dims=1)
        maps[:, half::step, ::step] = wibbled_mean(top)
        step //= 2
        wibble /= decay
    maps = maps - maps.amin(dim=(1, 2), keepdim=True)
    return maps / maps.amax(dim=(1, 2), keepdim=True)


def motion_blur_uint8(images, radius, sigma, angles):
    """ImageMagick's ``MotionBlurImage`` on uint8 [N, C, H, W] with one angle (degrees) per image.

    Kernel: width = 2 * ceil(radius) + 1 taps, tap i weighted exp(-i^2 / (2 sigma^2)) (normalised; a one-sided
    half Gaussian); tap i reads the pixel at offset (ceil(i cos(angle) - 0.5), ceil(i sin(angle) - 0.5)) in
    (x, y), edge pixels repeated. The result is rounded to uint8. Taps lighter than ``_NEGLIGIBLE_TAP`` are
    skipped (the tail of a half Gaussian; it changes no output).
    """
    n, c, h, w = images.shape
    width = int(2 * math.ceil(radius) + 1)
    taps = torch.exp(-torch.arange(width, dtype=torch.float64) ** 2 / (2 * sigma ** 2))
    taps = (taps / taps.sum()).tolist()
    taps = taps[:sum(weight >= _NEGLIGIBLE_TAP for weight in taps)]  # weights fall with i: keep a prefix
    cos, sin = torch.cos(torch.deg2rad(angles.double())), torch.sin(torch.deg2rad(angles.double()))
    flat = images.reshape(n, c, h * w)
    rows, cols = torch.arange(h), torch.arange(w)
    out = torch.zeros(flat.shape)
    for i, weight in enumerate(taps):
        dx, dy = torch.ceil(i * cos - 0.5).long(), torch.ceil(i * sin - 0.5).long()
        src_rows = (rows + dy[:, None]).clamp(0, h - 1)
        src_cols = (cols + dx[:, None]).clamp(0, w - 1)
        index = (src_rows[:, :, None] * w + src_cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
        out.add_(flat.gather(2, index), alpha=weight)
    return out.round_().clamp_(0, 255).to(torch.uint8).reshape(n, c, h, w)


@functools.cache
def pil_box_coefficients(n_in, n_out):
    """Pillow's fixed-point BOX resampling matrix along one axis: n_out x n_in integers (as float64), sum 2^22."""
    scale = n_in / n_out
    filter_scale = max(scale, 1.0)
    support, inverse_scale = 0.5 * filter_scale, 1.0 / filter_scale
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    for out in range(n_out):
        centre = (out + 0.5) * scale
        first = max(int(centre - support + 0.5), 0)
        last = min(int(centre + support + 0.5), n_in)
        weights = [1.0 if -0.5 < (x - centre + 0.5) * inverse_scale <= 0.5 else 0.0 for x in range(first, last)]
        total = sum(weights)
        for x, weight in zip(range(first, last), weights):
            matrix[out, x] = int(0.5 + weight / total * (1 << 22))
    return matrix


def pil_box_resize(images, size):
    """Pillow's ``resize((size, size), Image.BOX)`` on uint8 [..., H, W]: horizontal pass, uint8, vertical pass."""
    def one_pass(x, coefficients):  # resample the last axis, round half up, clip to uint8
        values = x.double() @ coefficients.T  # integers below 2^31: exact in float64
        return values.add_(1 << 21).mul_(1.0 / (1 << 22)).floor_().clamp_(0, 255).to(torch.uint8)

    wide = one_pass(images, pil_box_coefficients(images.shape[-1], size))
    return one_pass(wide.transpose(-1, -2), pil_box_coefficients(images.shape[-2], size)).transpose(-1, -2)


def grid_sample_pixels(x, source_x, source_y, mode):
    """Bilinear sample of x [N, C, H, W] at pixel coordinates [N, H, W]; ``reflect101`` or ``symmetric`` borders."""
    h, w = x.shape[-2:]
    if mode == "reflect101":  # align_corners=True reflects about the border pixel centres
        grid = torch.stack((2 * source_x / (w - 1) - 1, 2 * source_y / (h - 1) - 1), dim=-1)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    grid = torch.stack(((2 * source_x + 1) / w - 1, (2 * source_y + 1) / h - 1), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
