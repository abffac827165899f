"""The weather corruptions of ``lsdl_ens.data.corruptions.corrupt`` (snow, frost, fog), with their CIFAR-10-C
parameters.

Same contract as ``corruption_ops`` (which re-exports every name here): ``op(images, severity, generator) ->
images`` on uint8 tensors [N, 3, 32, 32], ``severity`` in 1..5, ``generator`` the only source of randomness. The
parameter tables are those of ``ImageNet-C/create_c/make_cifar_c.py`` in hendrycks/robustness (Hendrycks &
Dietterich, ICLR 2019); frost replaces the reference's photographs by a procedural texture
(``frost_texture``). All deviations are listed in ``corruptions.py``.
"""

import torch

from .image_filters import (
    SIZE,
    apply_separable,
    clipped_zoom_matrix,
    motion_blur_uint8,
    plasma_fractal,
    to_unit,
    truncate_to_uint8,
    uniform,
)

__all__ = ["SNOW", "FROST", "FOG", "snow", "frost_texture", "frost", "fog"]

# every parameter below is the reference's CIFAR (32 x 32) value
SNOW = ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8))  # see snow()
FROST = ((1.0, 0.2), (1.0, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))  # image weight, frost weight
FOG = ((0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75))  # fog strength, wibble decay


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
