import pytest
import torch

from lsdl_ens.data import CIFAR10_MEAN, CIFAR10_STD, BatchLoader, ImageSet, random_crop_flip


def _toy(n=50, hw=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ImageSet(torch.randint(0, 256, (n, 3, hw, hw), generator=g, dtype=torch.uint8),
                    torch.arange(n) % 10)


def test_eval_batches_are_normalised_and_ordered():
    data = _toy()
    batches = list(BatchLoader(data, 16))
    assert [len(y) for _, y in batches] == [16, 16, 16, 2]
    x0, y0 = batches[0]
    expected = (data.images[:16].float() / 255 - torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    assert torch.allclose(x0, expected, atol=1e-5) and torch.equal(y0, data.labels[:16])


def test_shuffle_is_a_permutation_seeded_by_seed_and_epoch():
    data = _toy()
    loader = BatchLoader(data, 10, shuffle=True, seed=5)
    e0 = torch.cat([y for _, y in loader.iterate(epoch=0)])
    e1 = torch.cat([y for _, y in loader.iterate(epoch=1)])
    assert sorted(e0.tolist()) == sorted(data.labels.tolist())
    assert not torch.equal(e0, e1)
    assert torch.equal(e0, torch.cat([y for _, y in BatchLoader(data, 10, shuffle=True, seed=5)]))
    assert not torch.equal(e0, torch.cat([y for _, y in BatchLoader(data, 10, shuffle=True, seed=6)]))


def test_random_crop_flip_matches_per_image_reference():
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    out = random_crop_flip(images, torch.Generator().manual_seed(0), padding=2, flip=True)
    # replay the same random draws and crop each image by hand
    g = torch.Generator().manual_seed(0)
    dy = torch.randint(0, 5, (6,), generator=g)
    dx = torch.randint(0, 5, (6,), generator=g)
    flips = torch.rand(6, generator=g) < 0.5
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(6):
        ref = padded[i, :, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8]
        if flips[i]:
            ref = ref.flip(-1)
        assert torch.equal(out[i], ref)


def test_multi_view_batches_share_images_but_differ_in_augmentation():
    data = _toy()
    xs, y = next(iter(BatchLoader(data, 8, augment=True, views=3, seed=0)))
    assert len(xs) == 3 and all(x.shape == (8, 3, 8, 8) for x in xs)
    assert not torch.equal(xs[0], xs[1])
    assert torch.equal(y, data.labels[:8])


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="views > 1 needs augment"):
        BatchLoader(_toy(), 4, views=2)
    with pytest.raises(ValueError, match="batch_size"):
        BatchLoader(_toy(), 0)
    with pytest.raises(ValueError, match="data must be an lsdl_ens.data.ImageSet"):
        BatchLoader(torch.zeros(3), 4)


@pytest.mark.parametrize("bad, error", [(2.5, TypeError), (True, TypeError), (0, ValueError), ("8", TypeError)])
def test_batch_size_is_checked_when_the_loader_is_made(bad, error):
    data = ImageSet(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(error, match="batch_size"):
        BatchLoader(data, bad)
