"""A tiny CLIP for CIFAR-10 with open_clip's interface: ``encode_image``, ``encode_text``, ``logit_scale``, a tokenizer.

Image tower (``model.visual``): VGG-style 3x3 convs with widths 16-32-64-128 and max-pools, each conv followed by a
channel LayerNorm (`LayerNorm2d`, a subclass of ``nn.LayerNorm`` so that code selecting ``nn.LayerNorm`` modules,
as WATT does for real CLIP ViTs, finds them), GELU, global average pooling, ``ln_post`` and a linear projection to
the joint embedding (dimension 64). About 105k parameters; no BatchNorm and no dropout, so train and eval modes
compute the same function (as for a CLIP ViT).

Text tower: word-level tokens (`SimpleTokenizer`), token + position embeddings, one pre-norm transformer layer,
mean over the non-padding tokens, ``ln_final`` and a linear projection.

``forward(images, tokens)`` returns (image_features, text_features, logit_scale.exp()) as open_clip does.
Deliberate deviations from CLIP (Radford et al. 2021, openai/CLIP: clip/model.py): convolutions instead of a ViT,
a word-level instead of a BPE tokenizer, mean pooling of the text tokens instead of the EOT token. The model is
trained by `lsdl_ens.experiments.optimizers_tta.pretrained_clip`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LayerNorm2d", "SimpleTokenizer", "TinyCLIP"]

_SPECIALS = ("<pad>", "<sot>", "<eot>", "<unk>")


class SimpleTokenizer:
    """Lower-case word tokenizer over a fixed vocabulary: ``tokenizer(texts) -> LongTensor [N, context_length]``.

    Each text becomes ``<sot> w1 ... wn <eot>`` padded with 0 (``<pad>``); unknown words map to ``<unk>``; texts
    longer than the context are truncated (keeping ``<eot>``).
    """

    def __init__(self, words: Sequence[str], context_length: int = 16):
        self.vocab = list(_SPECIALS) + sorted(set(words) - set(_SPECIALS))
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.context_length = context_length

    @staticmethod
    def split(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower())

    @classmethod
    def from_texts(cls, texts: Sequence[str], context_length: int = 16) -> SimpleTokenizer:
        return cls(sorted({w for t in texts for w in cls.split(t)}), context_length)

    def __len__(self) -> int:
        return len(self.vocab)

    def __call__(self, texts) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = [self.index.get(w, 3) for w in self.split(text)][: self.context_length - 2]
            ids = [1, *ids, 2]
            out[i, : len(ids)] = torch.tensor(ids)
        return out


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of every pixel of a [B, C, H, W] map (ConvNeXt-style)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class _Visual(nn.Module):
    def __init__(self, widths: Sequence[int], embed_dim: int):
        super().__init__()
        layers, in_ch = [], 3
        for i, w in enumerate(widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(in_ch, w, 3, padding=1), LayerNorm2d(w), nn.GELU()]
            in_ch = w
        self.body = nn.Sequential(*layers)
        self.ln_post = nn.LayerNorm(in_ch)
        self.proj = nn.Linear(in_ch, embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(x).mean(dim=(2, 3))
        return self.proj(self.ln_post(x))


class TinyCLIP(nn.Module):
    """Tiny CLIP (see the module docstring).

    Args:
        tokenizer: a `SimpleTokenizer` (its vocabulary sizes the token embedding); kept as ``model.tokenizer``.
        widths: channels of the image tower's stages.
        embed_dim: joint embedding dimension.
        text_width: width of the text transformer.
    """

    def __init__(self, tokenizer: SimpleTokenizer, widths: Sequence[int] = (16, 32, 64, 128), embed_dim: int = 64,
                 text_width: int = 64, text_heads: int = 4):
        super().__init__()
        self.tokenizer = tokenizer
        self.visual = _Visual(widths, embed_dim)
        self.token_embedding = nn.Embedding(len(tokenizer), text_width)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(tokenizer.context_length, text_width))
        self.transformer = nn.TransformerEncoderLayer(text_width, text_heads, 2 * text_width, dropout=0.0,
                                                      activation="gelu", batch_first=True, norm_first=True)
        self.ln_final = nn.LayerNorm(text_width)
        self.text_projection = nn.Linear(text_width, embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Image embeddings [B, D] of normalised images [B, 3, 32, 32]."""
        x = self.visual(images)
        return F.normalize(x, dim=-1) if normalize else x

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Text embeddings [N, D] of token ids [N, L] (from ``model.tokenizer``)."""
        tokens = tokens.to(self.token_embedding.weight.device)
        pad = tokens == 0
        x = self.token_embedding(tokens) + self.positional_embedding[: tokens.shape[1]]
        x = self.transformer(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        x = (x * keep).sum(1) / keep.sum(1)
        x = self.text_projection(self.ln_final(x))
        return F.normalize(x, dim=-1) if normalize else x

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        return self.encode_image(images, True), self.encode_text(tokens, True), self.logit_scale.exp()
