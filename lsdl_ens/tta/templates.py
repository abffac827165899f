"""Caption templates: WATT's 8 adaptation templates and the larger pool the course's tiny CLIP is trained on.

``WATT_TEMPLATES`` are the H = 8 templates of Mehrdad-Noori/WATT ``templates.yaml`` (Osowiechi et al. 2024),
verbatim. ``CAPTION_TEMPLATES`` is a pool of 64 prompt templates in the style of CLIP's prompt-engineering lists
(written for this course); it contains the 8 WATT templates, so the tiny CLIP has seen their words, as a web-scale
CLIP has seen such phrases.
"""

WATT_TEMPLATES = (
    "a photo of a {}",
    "itap of a {}",
    "a bad photo of the {}.",
    "a origami {}.",
    "a photo of the large {}.",
    "a {} in a video game.",
    "art of the {}.",
    "a photo of the small {}.",
)

_EXTRA = (
    "a photo of the {}.", "a picture of a {}.", "an image of a {}.", "a blurry photo of a {}.",
    "a cropped photo of the {}.", "a bright photo of a {}.", "a dark photo of the {}.", "a close-up photo of a {}.",
    "a low resolution photo of the {}.", "a good photo of a {}.", "a jpeg corrupted photo of a {}.",
    "a pixelated photo of the {}.", "a black and white photo of the {}.", "a photo of my {}.", "a photo of one {}.",
    "a rendering of a {}.", "a drawing of a {}.", "a sketch of the {}.", "a painting of a {}.", "a cartoon {}.",
    "a toy {}.", "a plastic {}.", "a sculpture of a {}.", "a tattoo of the {}.", "graffiti of a {}.",
    "a embroidered {}.", "a plushie {}.", "the {} in a video game.", "a photo of a clean {}.",
    "a photo of a dirty {}.", "a photo of a nice {}.", "a photo of a weird {}.", "a photo of a cool {}.",
    "a close-up photo of the {}.", "a snapshot of a {}.", "a small photo of a {}.", "a large photo of the {}.",
    "a photo of the {} outside.", "a photo of a {} at night.", "a photo of the {} in the snow.",
    "a photo of a {} in the fog.", "a noisy photo of a {}.", "a faded photo of the {}.", "a sharp photo of a {}.",
    "a photo showing a {}.", "this is a {}.", "there is a {} in the picture.", "a {} in the wild.",
    "a centered photo of a {}.", "a tiny {}.", "a big {}.", "a {} seen from the side.", "a {} seen from the front.",
    "a origami model of the {}.", "art of a {}.", "itap of the {}.",
)

CAPTION_TEMPLATES = WATT_TEMPLATES + _EXTRA

__all__ = ["WATT_TEMPLATES", "CAPTION_TEMPLATES"]
