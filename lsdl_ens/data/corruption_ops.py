"""The per-corruption operations behind ``lsdl_ens.data.corruptions.corrupt``, with their CIFAR-10-C parameters.

Every public function here has the signature ``op(images, severity, generator) -> images``: ``images`` is a
uint8 tensor [N, 3, 32, 32] on the CPU, ``severity`` an int in 1..5 (already checked), ``generator`` a
``torch.Generator`` that is the only source of randomness. The parameter tables (one entry per severity) are
those of ``ImageNet-C/create_c/make_cifar_c.py`` in hendrycks/robustness (Hendrycks & Dietterich, ICLR 2019);
the formulas re-implement the reference's libraries (scikit-image, SciPy, OpenCV, ImageMagick, Pillow) in
batched torch. Their deviations are listed in ``corruptions.py``.

Quantisation follows the reference: ops whose reference result is a float image end with
``truncate_to_uint8`` (the reference's final ``np.uint8(...)`` truncates), motion blur rounds (ImageMagick),
pixelate and JPEG produce Pillow's own uint8 output.
"""

import functools
import io
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SIZE = 32  # every parameter below is the reference's CIFAR (32 x 32) value

GAUSSIAN_NOISE_STD = (0.04, 0.06, 0.08, 0.09, 0.10)
SHOT_NOISE_PHOTONS = (500, 250, 100, 75, 50)
IMPULSE_NOISE_AMOUNT = (0.01, 0.02, 0.03, 0.05, 0.07)
SPECKLE_NOISE_STD = (0.06, 0.10, 0.12, 0.16, 0.20)
GAUSSIAN_BLUR_SIGMA = (0.4, 0.6, 0.7, 0.8, 1.0)
GLASS_BLUR = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))  # sigma, max_delta, iterations
DEFOCUS_BLUR = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1.0, 0.2), (1.5, 0.1))  # disk radius, alias_blur
MOTION_BLUR = ((6, 1.0), (6, 1.5), (6, 2.0), (8, 2.0), (9, 2.5))  # ImageMagick radius, sigma
# np.arange exactly as the reference: float rounding makes severities 1 and 2 include 1.06 and 1.11 (7, 12 factors)
ZOOM_BLUR_FACTORS = tuple(np.arange(1, stop, 0.01) for stop in (1.06, 1.11, 1.16, 1.21, 1.26))
SNOW = ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8))  # see snow()
FROST = ((1.0, 0.2), (1.0, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))  # image weight, frost weight
FOG = ((0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75))  # fog strength, wibble decay
BRIGHTNESS_SHIFT = (0.05, 0.1, 0.15, 0.2, 0.3)
CONTRAST_FACTOR = (0.75, 0.5, 0.4, 0.3, 0.15)
SATURATE = ((0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2))  # S -> S * a + b
JPEG_QUALITY = (80, 65, 58, 50, 40)
PIXELATE_FACTOR = (0.95, 0.9, 0.85, 0.75, 0.65)
ELASTIC = tuple((SIZE * a, SIZE * s, SIZE * j) for a, s, j in
                ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)))

_NEGLIGIBLE_TAP = 1e-9  # motion blur taps below this weight change outputs by < 1e-6 grey levels; skipped
_TRUNCATION_SLACK = 1e-3  # in 0..255 units: float error must not turn an exact k into k - 1


# ---------------------------------------------------------------------------------------------- helpers

def to_unit(images):
    """uint8 [0, 255] -> float32 [0, 1]."""
    return images.float() / 255.0


def truncate_to_uint8(unit):
    """float [0, 1] -> uint8 by clipping and truncating ``255 * x``, as the reference's ``np.uint8``."""
    return (unit.clamp(0.0, 1.0) * 255.0 + _TRUNCATION_SLACK).floor().to(torch.uint8)


def uniform(shape, low, high, generator):
    """float32 draws from U(low, high) of the given shape, from ``generator``."""
    return low + (high - low) * torch.rand(shape, generator=generator)


def _pad_index(n, pad, mode):
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
    source = _pad_index(n, radius, mode).unfold(0, taps.numel(), 1)  # [n, taps]: input read by output o, tap t
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


@functools.lru_cache(maxsize=None)
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


# ----------------------------------------------------------------------------------------------- noise

def gaussian_noise(images, severity, generator):
    """x + N(0, std^2) per value, std from ``GAUSSIAN_NOISE_STD``."""
    x = to_unit(images)
    return truncate_to_uint8(x + GAUSSIAN_NOISE_STD[severity - 1] * torch.randn(x.shape, generator=generator))


def shot_noise(images, severity, generator):
    """Poisson(x * p) / p per value, p photons from ``SHOT_NOISE_PHOTONS``."""
    photons = SHOT_NOISE_PHOTONS[severity - 1]
    return truncate_to_uint8(torch.poisson(to_unit(images) * photons, generator=generator) / photons)


def impulse_noise(images, severity, generator):
    """Salt and pepper: each value is replaced with probability a (``IMPULSE_NOISE_AMOUNT``), by 0 or 1 equally."""
    amount = IMPULSE_NOISE_AMOUNT[severity - 1]
    u = torch.rand(images.shape, generator=generator)  # u < amount / 2: salt, amount / 2 <= u < amount: pepper
    return torch.where(u < amount, torch.where(u < amount / 2, 255, 0).to(torch.uint8), images)


def speckle_noise(images, severity, generator):
    """x + x * N(0, std^2) per value, std from ``SPECKLE_NOISE_STD``."""
    x = to_unit(images)
    return truncate_to_uint8(x + x * SPECKLE_NOISE_STD[severity - 1] * torch.randn(x.shape, generator=generator))


# ------------------------------------------------------------------------------------------------ blur

def gaussian_blur(images, severity, generator):
    """skimage ``gaussian`` (truncate 4, border 'nearest') with sigma from ``GAUSSIAN_BLUR_SIGMA``."""
    return truncate_to_uint8(gaussian_filter(to_unit(images), GAUSSIAN_BLUR_SIGMA[severity - 1], "edge"))


def glass_blur(images, severity, generator):
    """Gaussian blur, then local pixel moves, then Gaussian blur again (``GLASS_BLUR``: sigma, delta, iterations).

    The reference visits pixels (h, w) for h, w from 31 down to 2 and 'swaps' pixel (h, w) with
    (h + dy, w + dx), dx, dy drawn from randint(-delta, delta), i.e. {-1, 0}. Its tuple swap of numpy views
    actually copies: (h, w) takes the value of (h + dy, w + dx), which keeps its own. Sources lie up or left,
    so they are visited later and still hold their values from before the sweep: one sweep is one gather.
    """
    sigma, delta, iterations = GLASS_BLUR[severity - 1]
    x = truncate_to_uint8(gaussian_filter(to_unit(images), sigma, "edge"))
    n = x.shape[0]
    visited = torch.arange(delta + 1, SIZE - delta + 1)  # 2..31 for delta = 1
    for _ in range(iterations):
        moves = torch.randint(-delta, delta, (n, 2, len(visited), len(visited)), generator=generator)
        source = torch.arange(SIZE * SIZE).reshape(SIZE, SIZE).repeat(n, 1, 1)
        rows, cols = visited[:, None] + moves[:, 1], visited[None, :] + moves[:, 0]
        source[:, delta + 1:, delta + 1:] = rows * SIZE + cols
        x = x.reshape(n, 3, SIZE * SIZE).gather(2, source.reshape(n, 1, -1).expand(n, 3, -1))
    x = x.reshape(n, 3, SIZE, SIZE)
    return truncate_to_uint8(gaussian_filter(to_unit(x), sigma, "edge"))


def defocus_kernel(radius, alias_blur):
    """The reference's ``disk``: a normalised 17 x 17 disk (x^2 + y^2 <= r^2), smoothed by OpenCV's 3 x 3
    Gaussian of std ``alias_blur``; returned cropped to its non-zero support."""
    grid = torch.arange(-8, 9, dtype=torch.float64)
    disk = ((grid[:, None] ** 2 + grid[None, :] ** 2) <= radius ** 2).double()
    disk /= disk.sum()
    taps = torch.exp(-torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64) / (2 * alias_blur ** 2))
    taps /= taps.sum()
    kernel = F.conv2d(disk[None, None], (taps[:, None] * taps[None, :])[None, None], padding=1)[0, 0]
    reach = int((kernel.abs() > 0).nonzero()[:, 0].sub(8).abs().max())
    return kernel[8 - reach:9 + reach, 8 - reach:9 + reach].float()


def defocus_blur(images, severity, generator):
    """OpenCV ``filter2D`` (border reflect-101) with ``defocus_kernel(*DEFOCUS_BLUR[severity - 1])``."""
    kernel = defocus_kernel(*DEFOCUS_BLUR[severity - 1])
    return truncate_to_uint8(filter2d(to_unit(images), kernel, "reflect101"))


def motion_blur(images, severity, generator):
    """ImageMagick motion blur (``MOTION_BLUR``: radius, sigma) at an angle ~ U(-45, 45) degrees per image."""
    radius, sigma = MOTION_BLUR[severity - 1]
    angles = uniform((images.shape[0],), -45.0, 45.0, generator)
    return motion_blur_uint8(images, radius, sigma, angles)


@functools.lru_cache(maxsize=None)
def zoom_blur_operator(severity):
    """The zoom blur of one 32 x 32 plane as a sparse CSR matrix [1024, 1024] (about 12 non-zeros a row):
    (I + sum over factors z of M_z kron M_z) / (number of factors + 1), M_z = ``clipped_zoom_matrix(z)``."""
    factors = ZOOM_BLUR_FACTORS[severity - 1]
    dense = torch.eye(SIZE * SIZE, dtype=torch.float64)
    for factor in factors:
        zoom = clipped_zoom_matrix(factor).double()
        dense += torch.kron(zoom, zoom)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"; we only use matmul
        warnings.simplefilter("ignore", UserWarning)
        return (dense / (len(factors) + 1)).float().to_sparse_csr()


def zoom_blur(images, severity, generator):
    """Mean of the image and its ``clipped_zoom`` by each factor of ``ZOOM_BLUR_FACTORS`` (1, 1.01, ...)."""
    planes = to_unit(images).reshape(-1, SIZE * SIZE)
    return truncate_to_uint8((zoom_blur_operator(severity) @ planes.T).T.reshape(images.shape))


# --------------------------------------------------------------------------------------------- weather

def snow(images, severity, generator):
    """Snow flakes: threshold a zoomed Gaussian field, motion-blur it, add it twice (as is and rotated by 180
    degrees) to a brightened image. ``SNOW``: (mean, std, zoom, threshold, blur radius, blur sigma, blend).

    Flakes ~ N(mean, std^2) per pixel, ``clipped_zoom`` by ``zoom``, zeroed below ``threshold``, truncated to
    uint8, motion-blurred at an angle ~ U(-135, -45) degrees. Image: blend x + (1 - blend) max(x, 1.5 grey +
    0.5), grey = 0.299 R + 0.587 G + 0.114 B (OpenCV's RGB2GRAY). Result: clip(image + flakes + flakes
    rotated by 180 degrees).
    """
    mean, std, zoom, threshold, radius, sigma, blend = SNOW[severity - 1]
    x = to_unit(images)
    n = x.shape[0]
    flakes = mean + std * torch.randn((n, SIZE, SIZE), generator=generator)
    flakes = apply_separable(clipped_zoom_matrix(zoom), flakes)
    flakes = torch.where(flakes < threshold, torch.zeros_like(flakes), flakes)
    flakes = truncate_to_uint8(flakes)[:, None]
    angles = uniform((n,), -135.0, -45.0, generator)
    flakes = motion_blur_uint8(flakes, radius, sigma, angles).float() / 255.0
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    x = blend * x + (1 - blend) * torch.maximum(x, grey * 1.5 + 0.5)
    return truncate_to_uint8(x + flakes + flakes.flip(-1, -2))


def frost_texture(count, generator):
    """Procedural stand-in for the reference's frost photographs: floats in 0..255, [count, 3, 32, 32].

    Calibrated to 32 x 32 crops of the five photographs the CIFAR script samples (frost1-5 of
    hendrycks/robustness, resized by 0.2 as there): mean colour (R, G, B) about (0.56, 0.65, 0.69), std within
    a crop about 0.06, mean absolute difference of neighbouring pixels about 0.03. Here: a pale blue level
    L ~ U(0.5, 0.85) per image, tinted (0.80 L, 0.92 L, L), plus 0.06 x a ridged diamond-square texture
    (1 - |2 p - 1|, p = ``plasma_fractal`` with decay 1.4, standardised per image), clipped to [0, 1].
    On 200 smooth test images the mean absolute change per severity was 29.7, 43.2, 46.4, 42.5, 37.6 grey
    levels, against 30.6, 46.3, 48.4, 41.8, 41.1 for the reference with the photographs.
    """
    level = uniform((count, 1, 1, 1), 0.5, 0.85, generator)
    tint = torch.tensor([0.80, 0.92, 1.0]).reshape(1, 3, 1, 1)
    ridges = 1.0 - (2.0 * plasma_fractal(count, 1.4, generator) - 1.0).abs()
    mean, std = ridges.mean(dim=(1, 2), keepdim=True), ridges.std(dim=(1, 2), keepdim=True)
    texture = ((ridges - mean) / std.clamp(min=1e-6))[:, None]
    return 255.0 * (level * tint + 0.06 * texture).clamp(0.0, 1.0)


def frost(images, severity, generator):
    """clip(a x + b frost) on the 0..255 scale with (a, b) from ``FROST``; ``frost_texture`` replaces the photos."""
    weight_image, weight_frost = FROST[severity - 1]
    texture = frost_texture(images.shape[0], generator)
    return truncate_to_uint8((weight_image * images.float() + weight_frost * texture) / 255.0)


def fog(images, severity, generator):
    """x + s * plasma, rescaled by max / (max + s), with (s, decay) from ``FOG``; max over the whole image."""
    strength, decay = FOG[severity - 1]
    x = to_unit(images)
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    x = x + strength * plasma_fractal(x.shape[0], decay, generator)[:, None]
    return truncate_to_uint8(x * peak / (peak + strength))


# ------------------------------------------------------------------------------------------------ digital

def brightness(images, severity, generator):
    """HSV value V -> clip(V + c); with H and S fixed that scales RGB by V'/V (black becomes grey V')."""
    x = to_unit(images)
    value = x.amax(dim=1, keepdim=True)
    new_value = (value + BRIGHTNESS_SHIFT[severity - 1]).clamp(max=1.0)
    scaled = x * new_value / value.clamp(min=1e-12)
    return truncate_to_uint8(torch.where(value > 0, scaled, new_value.expand_as(x)))


def contrast(images, severity, generator):
    """(x - m) * c + m, m the per-image, per-channel mean, c from ``CONTRAST_FACTOR``."""
    x = to_unit(images)
    means = x.mean(dim=(2, 3), keepdim=True)
    return truncate_to_uint8((x - means) * CONTRAST_FACTOR[severity - 1] + means)


def saturate(images, severity, generator):
    """HSV saturation S -> clip(a S + b), (a, b) from ``SATURATE``.

    With H and V fixed, RGB -> V - (S'/S)(V - RGB). Grey pixels have S = 0 and (skimage's convention) H = 0,
    so they become (V, V(1 - S'), V(1 - S')): reddish when b > 0, as in the reference.
    """
    a, b = SATURATE[severity - 1]
    x = to_unit(images)
    value, low = x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True)
    delta = value - low
    sat = delta / value.clamp(min=1e-12)
    new_sat = (sat * a + b).clamp(0.0, 1.0)
    coloured = value - new_sat / sat.clamp(min=1e-12) * (value - x)
    grey = torch.cat((value, value * (1 - new_sat), value * (1 - new_sat)), dim=1)
    return truncate_to_uint8(torch.where(delta > 0, coloured, grey))


def jpeg_compression(images, severity, generator):
    """Pillow JPEG encode and decode at quality ``JPEG_QUALITY`` (libjpeg defaults: 4:2:0 chroma subsampling)."""
    quality = JPEG_QUALITY[severity - 1]
    pixels = images.permute(0, 2, 3, 1).contiguous().numpy()
    out = np.empty_like(pixels)
    for i, image in enumerate(pixels):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        out[i] = np.asarray(Image.open(buffer))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def pixelate(images, severity, generator):
    """Pillow BOX resize to int(32 f) pixels and back, f from ``PIXELATE_FACTOR`` (exact fixed-point replica)."""
    small = pil_box_resize(images, int(SIZE * PIXELATE_FACTOR[severity - 1]))
    return pil_box_resize(small, SIZE)


def elastic_transform(images, severity, generator):
    """Random affine warp, then a smooth random displacement field (``ELASTIC``: alpha, sigma, affine jitter).

    Affine: the points (26, 26), (26, 6), (6, 6) move by U(-jitter, jitter) per coordinate; OpenCV
    ``warpAffine`` (bilinear, border reflect-101). Field: dx, dy = alpha * gaussian(U(-1, 1), sigma, border
    'reflect', truncate 3); SciPy ``map_coordinates`` (order 1, border 'reflect') at (y + dy, x + dx).
    """
    alpha, sigma, jitter = ELASTIC[severity - 1]
    x = to_unit(images)
    n = x.shape[0]
    anchors = torch.tensor([[26.0, 26.0], [26.0, 6.0], [6.0, 6.0]])
    moved = anchors + uniform((n, 3, 2), -jitter, jitter, generator)
    # warpAffine reads the source at the inverse map, the affine map sending moved -> anchors
    inverse = torch.linalg.solve(torch.cat((moved, torch.ones(n, 3, 1)), dim=2).double(), anchors.double())
    ys, xs = torch.meshgrid(torch.arange(SIZE, dtype=torch.float64), torch.arange(SIZE, dtype=torch.float64),
                            indexing="ij")
    points = torch.stack((xs, ys, torch.ones_like(xs)), dim=-1).reshape(-1, 3)
    source = (points @ inverse).reshape(n, SIZE, SIZE, 2).float()
    x = grid_sample_pixels(x, source[..., 0], source[..., 1], "reflect101")
    field = uniform((2, n, SIZE, SIZE), -1.0, 1.0, generator)
    if alpha > 0:
        dx, dy = alpha * gaussian_filter(field, sigma, "symmetric", truncate=3.0)
        x = grid_sample_pixels(x, xs.float() + dx, ys.float() + dy, "symmetric")
    return truncate_to_uint8(x)
