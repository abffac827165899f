"""Tests for lsdl_ens.data.corruptions: CIFAR-10-C style corruptions (Hendrycks & Dietterich, 2019)."""

import colorsys
import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lsdl_ens.data import corruption_ops as ops
from lsdl_ens.data.image_filters import pad_index
from lsdl_ens.data.corruptions import CORRUPTIONS, corrupt

DETERMINISTIC = {"defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate", "jpeg_compression",
                 "gaussian_blur", "saturate"}
# Mean absolute change is not monotone in severity because the reference parameter table is not; see
# test_non_monotone_tables for what is asserted instead.
NON_MONOTONE_TABLES = {"glass_blur", "frost", "elastic_transform", "saturate"}


def synthetic_images(n=6, seed=0):
    """Real-looking test images: smooth random colour fields, a hard-edged box, a shaded half-plane, fine texture."""
    g = torch.Generator().manual_seed(seed)
    smooth = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=32, mode="bicubic", align_corners=False)
    x = 0.15 + 0.7 * smooth.clamp(0, 1)
    rows, cols = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    for i in range(n):
        top, left = torch.randint(2, 14, (2,), generator=g)
        box = (rows >= top) & (rows < top + 12) & (cols >= left) & (cols < left + 14)
        x[i][:, box] = 0.1 + 0.8 * torch.rand(3, 1, generator=g)
        half = (rows + cols * (i % 3 - 1)) > 40
        x[i][:, half] = x[i][:, half] * 0.5
    x = x + 0.04 * (torch.rand(n, 1, 32, 32, generator=g) - 0.5)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


IMAGES = synthetic_images()


def mean_abs_change(name, severity, images=IMAGES, seed=0):
    return (corrupt(images, name, severity, seed=seed).float() - images.float()).abs().mean().item()


def test_registry_has_the_cifar10c_names():
    required = {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "gaussian_blur", "defocus_blur",
                "motion_blur", "zoom_blur", "contrast", "brightness", "saturate", "fog", "frost", "pixelate",
                "jpeg_compression", "elastic_transform"}
    assert isinstance(CORRUPTIONS, tuple) and len(set(CORRUPTIONS)) == len(CORRUPTIONS) >= 12
    assert required <= set(CORRUPTIONS)


def test_parameter_tables_are_the_cifar10c_ones():
    """A second transcription of make_cifar_c.py's per-severity constants (hendrycks/robustness)."""
    assert ops.GAUSSIAN_NOISE_STD == (0.04, 0.06, 0.08, 0.09, 0.10)
    assert ops.SHOT_NOISE_PHOTONS == (500, 250, 100, 75, 50)
    assert ops.IMPULSE_NOISE_AMOUNT == (0.01, 0.02, 0.03, 0.05, 0.07)
    assert ops.SPECKLE_NOISE_STD == (0.06, 0.10, 0.12, 0.16, 0.20)
    assert ops.GAUSSIAN_BLUR_SIGMA == (0.4, 0.6, 0.7, 0.8, 1.0)
    assert ops.GLASS_BLUR == ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))
    assert ops.DEFOCUS_BLUR == ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))
    assert ops.MOTION_BLUR == ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))
    # np.arange(1, stop, 0.01) as in the reference; float rounding includes the stop 1.06 and 1.11
    assert [len(f) for f in ops.ZOOM_BLUR_FACTORS] == [7, 12, 16, 21, 26]
    assert [round(float(f[-1]), 2) for f in ops.ZOOM_BLUR_FACTORS] == [1.06, 1.11, 1.15, 1.20, 1.25]
    assert ops.SNOW == ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
                        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
                        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8))
    assert ops.FROST == ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))
    assert ops.FOG == ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))
    assert ops.BRIGHTNESS_SHIFT == (0.05, 0.1, 0.15, 0.2, 0.3)
    assert ops.CONTRAST_FACTOR == (0.75, 0.5, 0.4, 0.3, 0.15)
    assert ops.SATURATE == ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2))
    assert ops.JPEG_QUALITY == (80, 65, 58, 50, 40)
    assert ops.PIXELATE_FACTOR == (0.95, 0.9, 0.85, 0.75, 0.65)
    expected_elastic = [(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)]
    assert np.allclose(ops.ELASTIC, 32 * np.array(expected_elastic))


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_shape_dtype_and_single_image(name):
    out = corrupt(IMAGES, name, 3, seed=1)
    assert out.dtype == torch.uint8 and out.shape == IMAGES.shape
    assert not torch.equal(out, IMAGES)
    single = corrupt(IMAGES[0], name, 3, seed=1)
    assert single.shape == (3, 32, 32) and single.dtype == torch.uint8
    assert torch.equal(single, corrupt(IMAGES[:1], name, 3, seed=1)[0])  # a single image is a batch of one


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_seed_determinism(name):
    first, again = corrupt(IMAGES, name, 5, seed=7), corrupt(IMAGES, name, 5, seed=7)
    assert torch.equal(first, again)
    other = corrupt(IMAGES, name, 5, seed=8)
    assert torch.equal(first, other) == (name in DETERMINISTIC)


def test_global_random_state_untouched():
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    for name in ("gaussian_noise", "fog", "glass_blur", "elastic_transform", "snow"):
        corrupt(IMAGES, name, 2, seed=3)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)


@pytest.mark.parametrize("name", [n for n in CORRUPTIONS if n not in NON_MONOTONE_TABLES])
def test_distortion_non_decreasing_in_severity(name):
    changes = [mean_abs_change(name, s) for s in range(1, 6)]
    assert changes[0] > 0
    assert all(later >= earlier for earlier, later in zip(changes, changes[1:])), changes


def test_non_monotone_tables():
    # saturate multiplies S by 0.3, 0.1 (desaturate), then 1.5, 2, 2.5 (oversaturate): each branch is monotone
    s = [mean_abs_change("saturate", k) for k in range(1, 6)]
    assert s[0] < s[1] and s[2] < s[3] < s[4], s
    # glass_blur: sigmas 0.05, 0.25, 0.4, 0.25, 0.4 with 1, 1, 1, 2, 2 sweeps; the sweeps dominate
    g = [mean_abs_change("glass_blur", k) for k in range(1, 6)]
    assert min(g[3:]) > max(g[:3]), g
    # frost: image weight 1, 1, .9, .85, .75 and frost weight .2, .3, .4, .4, .45; the change in brightness
    # partly cancels, but the frost share grows, so the correlation with the clean image falls monotonically
    decorrelation = []
    for k in range(1, 6):
        out = corrupt(IMAGES, "frost", k).float().flatten(1)
        clean = IMAGES.float().flatten(1)
        corr = [np.corrcoef(a.numpy(), b.numpy())[0, 1] for a, b in zip(out, clean)]
        decorrelation.append(1 - float(np.mean(corr)))
    assert all(b > a for a, b in zip(decorrelation, decorrelation[1:])), decorrelation
    # elastic_transform: the affine jitter shrinks while the smooth local displacement grows
    jitters = [row[2] for row in ops.ELASTIC]
    assert all(b < a for a, b in zip(jitters, jitters[1:]))
    field = ops.uniform((64, 32, 32), -1.0, 1.0, torch.Generator().manual_seed(0))
    rms = [alpha * ops.gaussian_filter(field, sigma, "symmetric", 3.0).pow(2).mean().sqrt().item()
           for alpha, sigma, _ in ops.ELASTIC]
    assert all(b > a for a, b in zip(rms, rms[1:])), rms


@pytest.mark.parametrize("bad_name", ["gaussian", "Gaussian Noise", "", None, 3])
def test_unknown_name_lists_the_choices(bad_name):
    with pytest.raises(ValueError, match="unknown corruption.*gaussian_noise.*elastic_transform"):
        corrupt(IMAGES, bad_name, 1)


@pytest.mark.parametrize("bad_severity, exception", [
    (0, ValueError), (6, ValueError), (-1, ValueError), (2.5, TypeError), ("3", TypeError), (None, TypeError),
    (True, TypeError),
])
def test_bad_severity(bad_severity, exception):
    with pytest.raises(exception, match="severity must be an integer >= 1 <= 5"):
        corrupt(IMAGES, "contrast", bad_severity)


def test_whole_number_severity_counts_as_an_int():
    assert torch.equal(corrupt(IMAGES, "contrast", 2.0), corrupt(IMAGES, "contrast", 2))


@pytest.mark.parametrize("bad_images", [
    IMAGES.float() / 255,  # float in [0, 1]
    IMAGES.long(),
    IMAGES[:, :1],  # grey
    IMAGES.permute(0, 2, 3, 1),  # channels last
    IMAGES[:, :, :28, :28],  # not 32 x 32
    IMAGES[None],  # 5-D
    IMAGES.numpy(),  # not a tensor
])
def test_bad_images(bad_images):
    with pytest.raises(ValueError, match=r"images must be a torch.uint8 tensor of shape \[N, 3, 32, 32\]"):
        corrupt(bad_images, "contrast", 1)


@pytest.mark.parametrize("bad_seed", [1.5, "0", None, False])
def test_bad_seed(bad_seed):
    with pytest.raises(TypeError, match="seed must be an integer"):
        corrupt(IMAGES, "gaussian_noise", 1, seed=bad_seed)


def test_empty_batch():
    empty = torch.zeros(0, 3, 32, 32, dtype=torch.uint8)
    assert corrupt(empty, "fog", 2).shape == (0, 3, 32, 32)


def _hsv_reference(images, edit):
    """Pixel-wise colorsys RGB -> HSV, edit(h, s, v), back to RGB, truncated like the reference (np.uint8)."""
    x = images.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy() / 255
    out = np.array([colorsys.hsv_to_rgb(*edit(*colorsys.rgb_to_hsv(*p))) for p in x])
    out = np.floor(np.clip(out, 0, 1) * 255 + 1e-3)  # 1e-3: the documented truncation slack
    return torch.from_numpy(out).reshape(images.shape[0], 32, 32, 3).permute(0, 3, 1, 2)


@pytest.mark.parametrize("severity", [1, 5])
def test_brightness_is_hsv_value_shift(severity):
    images = IMAGES[:2].clone()
    images[0, :, :4, :4] = 0  # black pixels become grey
    shift = ops.BRIGHTNESS_SHIFT[severity - 1]
    expected = _hsv_reference(images, lambda h, s, v: (h, s, min(v + shift, 1.0)))
    diff = (corrupt(images, "brightness", severity).double() - expected).abs()
    assert diff.max() <= 1 and (diff > 0).double().mean() < 0.01


@pytest.mark.parametrize("severity", [2, 5])
def test_saturate_is_hsv_saturation_scaling(severity):
    images = IMAGES[:2].clone()
    images[1, :, :4, :4] = 100  # grey pixels: hue 0, so they turn reddish when the offset is positive
    a, b = ops.SATURATE[severity - 1]
    expected = _hsv_reference(images, lambda h, s, v: (h, min(max(s * a + b, 0.0), 1.0), v))
    diff = (corrupt(images, "saturate", severity).double() - expected).abs()
    assert diff.max() <= 1 and (diff > 0).double().mean() < 0.01


def test_contrast_formula():
    x = IMAGES.double().numpy() / 255
    means = x.mean(axis=(2, 3), keepdims=True)
    expected = np.floor(np.clip((x - means) * ops.CONTRAST_FACTOR[3] + means, 0, 1) * 255 + 1e-3)
    diff = np.abs(corrupt(IMAGES, "contrast", 4).double().numpy() - expected)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


@pytest.mark.parametrize("severity", [1, 4])
def test_pixelate_and_jpeg_match_pillow(severity):
    side, quality = int(32 * ops.PIXELATE_FACTOR[severity - 1]), ops.JPEG_QUALITY[severity - 1]
    pixelated, compressed = [], []
    for image in IMAGES.permute(0, 2, 3, 1).numpy():
        pil = Image.fromarray(image)
        pixelated.append(np.asarray(pil.resize((side, side), Image.BOX).resize((32, 32), Image.BOX)))
        buffer = io.BytesIO()
        pil.save(buffer, "JPEG", quality=quality)
        compressed.append(np.asarray(Image.open(buffer)))
    as_batch = lambda arrays: torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # noqa: E731
    assert torch.equal(corrupt(IMAGES, "pixelate", severity), as_batch(pixelated))
    assert torch.equal(corrupt(IMAGES, "jpeg_compression", severity), as_batch(compressed))


@pytest.mark.parametrize("name", ["gaussian_blur", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
                                  "pixelate", "elastic_transform", "contrast"])
def test_flat_images_stay_flat(name):
    flat = torch.full((2, 3, 32, 32), 137, dtype=torch.uint8)
    assert torch.equal(corrupt(flat, name, 5, seed=2), flat)


def test_motion_blur_kernel_is_a_one_sided_gaussian_line():
    impulse = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    impulse[0, 0, 16, 16] = 255
    out = ops.motion_blur_uint8(impulse, 6, 1.0, torch.tensor([0.0]))[0, 0]
    taps = torch.exp(-torch.arange(13.0) ** 2 / 2)
    expected = torch.zeros(32)
    expected[4:17] = (255 * taps / taps.sum()).round().flip(0)  # pixel x reads x + i: the impulse smears left
    assert torch.equal(out[16].float(), expected) and out.sum() == out[16].sum()


@pytest.mark.parametrize("mode, numpy_mode", [("edge", "edge"), ("reflect101", "reflect"),
                                              ("symmetric", "symmetric")])
def test_padding_modes_match_numpy(mode, numpy_mode):
    for n, pad in [(32, 3), (32, 19), (5, 4)]:
        expected = np.pad(np.arange(n), pad, mode=numpy_mode)
        assert np.array_equal(pad_index(n, pad, mode).numpy(), expected)
