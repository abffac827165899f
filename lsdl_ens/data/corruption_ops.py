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

The weather corruptions (snow, frost, fog) live in ``corruption_weather`` and are re-exported here, so every
operation and parameter table stays reachable as ``corruption_ops.<name>``.
"""

import functools
import io
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .image_filters import (
    SIZE,
    clipped_zoom_matrix,
    filter2d,
    gaussian_filter,
    grid_sample_pixels,
    motion_blur_uint8,
    pil_box_resize,
    to_unit,
    truncate_to_uint8,
    uniform,
)
from .corruption_weather import FOG, FROST, SNOW, fog, frost, frost_texture, snow  # noqa: F401  (re-exported)

# every parameter below is the reference's CIFAR (32 x 32) value

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
BRIGHTNESS_SHIFT = (0.05, 0.1, 0.15, 0.2, 0.3)
CONTRAST_FACTOR = (0.75, 0.5, 0.4, 0.3, 0.15)
SATURATE = ((0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2))  # S -> S * a + b
JPEG_QUALITY = (80, 65, 58, 50, 40)
PIXELATE_FACTOR = (0.95, 0.9, 0.85, 0.75, 0.65)
ELASTIC = tuple((SIZE * a, SIZE * s, SIZE * j) for a, s, j in
                ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)))


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


@functools.cache
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
