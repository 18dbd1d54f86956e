"""Batched augmentation (Sec. 7.1: 4-pixel zero pad, random crop, flip) and epoch sampling."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from optnet_nets.data import load_dataset
from optnet_nets.data.augment import AugmentParams, AugmentSpec, pad_crop_flip, sample_params
from optnet_nets.data.in_memory import InMemoryDataset, Splits
from optnet_nets.data.sampling import epoch_generator, steps_per_epoch
from optnet_theory.errors import OptnetError


def reference_pad_crop_flip(x, params, padding, fill, honour_flip=True):
    """Per-image loop: F.pad, slice the window at (dy, dx), mirror if flipped."""
    _, _, height, width = x.shape
    out = []
    for b in range(x.shape[0]):
        padded = F.pad(x[b : b + 1], (padding,) * 4, value=fill)
        dy, dx = int(params.dy[b]), int(params.dx[b])
        window = padded[0, :, dy : dy + height, dx : dx + width]
        out.append(window.flip(-1) if honour_flip and bool(params.flip[b]) else window)
    return torch.stack(out)


@given(
    batch=st.integers(1, 5),
    channels=st.integers(1, 3),
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    padding=st.integers(0, 5),
    seed=st.integers(0, 2**16),
    fill=st.sampled_from([0.0, -1.25, 3.5]),
)
def test_pad_crop_flip_equals_per_image_reference(
    batch, channels, height, width, padding, seed, fill
):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, channels, height, width), generator=g)
    params = sample_params(batch, AugmentSpec(padding=padding), g)
    out = pad_crop_flip(x, params, padding, fill)
    assert torch.equal(out, reference_pad_crop_flip(x, params, padding, fill))
    assert int(params.dy.min()) >= 0 and int(params.dy.max()) <= 2 * padding
    assert int(params.dx.min()) >= 0 and int(params.dx.max()) <= 2 * padding


def test_reference_check_catches_an_ignored_flip():
    # Negative control for the equivalence above: drop the flip and the check must fail.
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    params = AugmentParams(torch.tensor([4, 1]), torch.tensor([3, 0]), torch.tensor([True, False]))
    out = pad_crop_flip(x, params, 2)
    assert torch.equal(out, reference_pad_crop_flip(x, params, 2, 0.0))
    assert not torch.equal(out, reference_pad_crop_flip(x, params, 2, 0.0, honour_flip=False))


def test_flip_is_an_exact_mirror_and_centre_crop_is_identity():
    x = torch.randint(0, 256, (4, 3, 6, 7), dtype=torch.uint8)
    centre = torch.full((4,), 4)
    mirrored = pad_crop_flip(x, AugmentParams(centre, centre, torch.ones(4, dtype=torch.bool)), 4)
    assert torch.equal(mirrored, x.flip(-1))
    same = pad_crop_flip(x, AugmentParams(centre, centre, torch.zeros(4, dtype=torch.bool)), 4)
    assert torch.equal(same, x)


def test_corner_crop_shifts_content_and_fills_with_zero():
    x = torch.ones((1, 1, 4, 4))
    params = AugmentParams(torch.tensor([0]), torch.tensor([8]), torch.tensor([False]))
    out = pad_crop_flip(x, params, 4)
    # dy=0: the top 4 rows are padding; dx=8: the window starts 4 columns right of the image.
    assert torch.equal(out, torch.zeros_like(x))
    params = AugmentParams(torch.tensor([2]), torch.tensor([5]), torch.tensor([False]))
    out = pad_crop_flip(x, params, 4)
    expected = torch.zeros((4, 4))
    expected[2:, :3] = 1
    assert torch.equal(out[0, 0], expected)


def test_no_flip_when_disabled():
    params = sample_params(1000, AugmentSpec(flip=False), torch.Generator().manual_seed(0))
    assert not params.flip.any()
    params = sample_params(1000, AugmentSpec(flip=True), torch.Generator().manual_seed(0))
    assert 400 < int(params.flip.sum()) < 600


@pytest.mark.parametrize("fill_mode", ["normalized", "pixel"])
def test_pad_fill_modes(fill_mode):
    ds = load_dataset("synthetic", num_train=64, padding=4, pad_fill=fill_mode)
    x, _ = next(ds.train_batches(64, epoch=0, seed=0))
    _, params = ds.epoch_plan(seed=0, epoch=0)
    # Crops with dy=0 have 4 rows of padding on top.
    top = x[params.dy == 0][:, :, :4, :]
    assert top.numel() > 0
    expected = 0.0 if fill_mode == "normalized" else -ds.mean[0] / ds.std[0]
    assert torch.allclose(top[:, 0], torch.full_like(top[:, 0], expected), atol=1e-6)


# --- epoch order, determinism, resume and sharding ------------------------------------------


def tagged_dataset(n: int, padding: int = 2) -> InMemoryDataset:
    """Each image's label is its index, so batches can be traced back to images."""
    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (n, 2, 5, 5), dtype=torch.uint8, generator=g)
    splits = Splits(name="tagged", train=(images, torch.arange(n)),
                    test=(images.flip(0), torch.arange(n).flip(0)),
                    class_names=[str(i) for i in range(n)])
    return InMemoryDataset(splits, torch.device("cpu"), padding=padding)


def batches(ds, b, **kw):
    return list(ds.train_batches(b, **kw))


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_batches_depend_only_on_seed_and_epoch():
    ds = tagged_dataset(50)
    torch.manual_seed(1)
    first = batches(ds, 8, epoch=3, seed=7)
    torch.manual_seed(2)
    torch.rand(100)  # global RNG state moves; the batches must not
    assert_same_batches(first, batches(ds, 8, epoch=3, seed=7))
    other_epoch = batches(ds, 8, epoch=4, seed=7)
    other_seed = batches(ds, 8, epoch=3, seed=8)
    assert not torch.equal(first[0][1], other_epoch[0][1])
    assert not torch.equal(first[0][1], other_seed[0][1])


@pytest.mark.parametrize("start", [0, 1, 4, 6])
def test_resume_at_start_step_yields_the_remaining_batches(start):
    ds = tagged_dataset(50)
    full = batches(ds, 8, epoch=2, seed=0)
    assert len(full) == ds.steps_per_epoch(8) == 6
    assert_same_batches(full[start:], batches(ds, 8, epoch=2, seed=0, start_step=start))


def test_start_step_out_of_range():
    ds = tagged_dataset(50)
    with pytest.raises(OptnetError, match=r"start_step must be in \[0, 6\]"):
        ds.train_batches(8, epoch=0, seed=0, start_step=7)


@given(
    n=st.integers(1, 40),
    batch=st.integers(1, 9),
    world=st.integers(1, 4),
    drop_last=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_ranks_split_each_global_batch_disjointly(n, batch, world, drop_last, seed):
    ds = tagged_dataset(n)
    single = batches(ds, batch * world, epoch=1, seed=seed, drop_last=drop_last)
    per_rank = [
        batches(ds, batch, epoch=1, seed=seed, rank=r, world_size=world, drop_last=drop_last)
        for r in range(world)
    ]
    steps = steps_per_epoch(n, batch, world, drop_last)
    assert len(single) == steps and all(len(p) == steps for p in per_rank)
    for step in range(steps):
        # The ranks' shards, in rank order, are exactly the single-process global batch,
        # augmentation included: re-sharding changes nothing about which image looks how.
        images = torch.cat([p[step][0] for p in per_rank])
        labels = torch.cat([p[step][1] for p in per_rank])
        assert torch.equal(images, single[step][0]) and torch.equal(labels, single[step][1])
        if drop_last:
            assert all(p[step][1].numel() == batch for p in per_rank)
    seen = torch.cat([torch.empty(0, dtype=torch.int64)] + [y for p in per_rank for _, y in p])
    assert seen.unique().numel() == seen.numel()  # disjoint
    expected = n if not drop_last else steps * batch * world
    assert seen.numel() == expected  # covering (all images when nothing is dropped)


@given(n=st.integers(1, 30), batch=st.integers(1, 7), world=st.integers(1, 4))
def test_test_batches_cover_the_test_set_once(n, batch, world):
    ds = tagged_dataset(n)
    labels = [y for r in range(world) for _, y in ds.test_batches(batch, rank=r, world_size=world)]
    assert torch.equal(torch.cat(labels), ds.test_labels)
    assert all(0 < y.numel() <= batch for y in labels)


def test_unaugmented_batches_are_normalised_images_in_epoch_order():
    ds = tagged_dataset(20)
    (x, y), *_ = batches(ds, 20, epoch=0, seed=3, augment=False)
    mean = torch.tensor(ds.mean).view(-1, 1, 1)
    std = torch.tensor(ds.std).view(-1, 1, 1)
    expected = (ds.train_images[y].double() / 255 - mean) / std
    assert torch.allclose(x.double(), expected, atol=1e-5)
    assert torch.equal(y, torch.randperm(20, generator=epoch_generator(3, 0)))


def test_augmented_batch_is_pad_crop_flip_of_the_unaugmented_one():
    ds = tagged_dataset(24, padding=3)
    plain = batches(ds, 6, epoch=5, seed=1, augment=False)
    augmented = batches(ds, 6, epoch=5, seed=1)
    order, params = ds.epoch_plan(seed=1, epoch=5)
    assert torch.equal(torch.cat([y for _, y in plain]), order)
    for step, ((xp, yp), (xa, ya)) in enumerate(zip(plain, augmented, strict=True)):
        assert torch.equal(yp, ya)
        window = params.select(6 * step, 6 * step + 6)
        assert torch.equal(xa, reference_pad_crop_flip(xp, window, 3, 0.0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epoch": -1, "seed": 0}, "epoch must be an integer >= 0"),
        (
            {"epoch": 0, "seed": 0, "rank": 2, "world_size": 2},
            r"rank must be in \[0, world_size=2\)",
        ),
        ({"epoch": 0, "seed": 0, "world_size": 0}, "world_size must be an integer >= 1"),
        ({"epoch": 0, "seed": "a"}, "seed must be an integer >= 0"),
    ],
)
def test_bad_batching_arguments(kwargs, message):
    ds = tagged_dataset(10)
    with pytest.raises(OptnetError, match=message):
        ds.train_batches(2, **kwargs)
    with pytest.raises(OptnetError, match="batch_size must be an integer >= 1"):
        ds.test_batches(0)


def test_steps_per_epoch_counts():
    ds = tagged_dataset(50)
    for b, w, drop in itertools.product((1, 7, 50, 64), (1, 3), (True, False)):
        assert ds.steps_per_epoch(b, w, drop) == len(
            batches(ds, b, epoch=0, seed=0, world_size=w, drop_last=drop)
        )
