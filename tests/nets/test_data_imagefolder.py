"""Image folders (ImageNet layout, Sec. 7.1): exact read-back, reproducible augmentation, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from optnet_nets.data import DatasetError, load_dataset
from optnet_nets.data.imagefolder import center_box, random_resized_box
from optnet_nets.data.sampling import epoch_permutation
from optnet_theory.errors import OptnetError
from tests.nets.data_files import write_image_folder

Image = pytest.importorskip("PIL.Image", reason="imagefolder needs Pillow")

SMALL = {"image_size": 8, "resize": 8, "num_workers": 0}


def denormalize(ds, images):
    mean = torch.tensor(ds.mean).view(-1, 1, 1)
    std = torch.tensor(ds.std).view(-1, 1, 1)
    return ((images * std + mean) * 255).round().to(torch.uint8)


@pytest.fixture
def folder(tmp_path):
    return tmp_path, write_image_folder(tmp_path)


def test_val_images_and_labels_read_back_exactly(folder):
    root, pixels = folder
    ds = load_dataset("imagefolder", root, **SMALL)
    assert ds.class_names == ("cat", "dog", "emu")
    assert (ds.num_classes, ds.in_channels, ds.image_size) == (3, 3, (8, 8))
    assert (ds.train_size, ds.test_size) == (9, 6)
    images, labels = zip(*ds.test_batches(4), strict=True)
    images, labels = torch.cat(images), torch.cat(labels)
    expected = np.stack([a for _, a in pixels["val"]]).transpose(0, 3, 1, 2)
    assert np.array_equal(denormalize(ds, images).numpy(), expected)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    train = np.stack([a for _, a in pixels["train"]]).astype(np.float64) / 255
    assert np.allclose(ds.mean, train.mean(axis=(0, 1, 2)), atol=1e-12)
    assert np.allclose(ds.std, train.std(axis=(0, 1, 2)), atol=1e-12)


def test_grayscale_and_jpeg_become_rgb(tmp_path):
    write_image_folder(tmp_path, classes=("a", "b"))
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(gray, mode="L").save(tmp_path / "val" / "b" / "zz_gray.png")
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(tmp_path / "val" / "a" / "zz.jpg")
    (tmp_path / "val" / "a" / "notes.txt").write_text("not an image, ignored")
    ds = load_dataset("imagefolder", tmp_path, **SMALL)
    assert ds.test_size == 6
    pixels = denormalize(ds, torch.cat([x for x, _ in ds.test_batches(6)]))
    assert np.array_equal(pixels[5].numpy(), np.broadcast_to(gray, (3, 8, 8)))  # last file of b
    jpeg = pixels[2].int()  # last file of a
    assert int((jpeg - 200).abs().max()) <= 2  # JPEG is lossy; flat grey survives nearly exactly


def test_resize_and_centre_crop(tmp_path):
    write_image_folder(tmp_path, size=(12, 20))
    ds = load_dataset("imagefolder", tmp_path, image_size=6, resize=6, num_workers=0)
    x, _ = next(iter(ds.test_batches(2)))
    assert x.shape == (2, 3, 6, 6)
    # shorter side 12 -> 6 halves the image: a 6x10 picture, centre 6x6 is source x in [4, 16).
    assert center_box(20, 12, 6, 6) == (4.0, 0.0, 16.0, 12.0)


def train_epoch(ds, **kw):
    return list(ds.train_batches(2, epoch=1, seed=4, **kw))


def test_train_batches_reproducible_across_workers_and_resumable(folder):
    root, _ = folder
    ds0 = load_dataset("imagefolder", root, image_size=6, resize=8, num_workers=0)
    ds1 = load_dataset("imagefolder", root, image_size=6, resize=8, num_workers=1)
    full = train_epoch(ds0)
    assert len(full) == ds0.steps_per_epoch(2) == 4
    for (xa, ya), (xb, yb) in zip(full, train_epoch(ds1), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    for (xa, ya), (xb, yb) in zip(full[2:], train_epoch(ds0, start_step=2), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    other = list(ds0.train_batches(2, epoch=2, seed=4))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(full, other, strict=True))


def test_train_shards_are_disjoint(folder):
    root, _ = folder
    ds = load_dataset("imagefolder", root, **SMALL)
    single = list(ds.train_batches(4, epoch=0, seed=0, drop_last=False))
    shards = [
        list(ds.train_batches(2, epoch=0, seed=0, rank=r, world_size=2, drop_last=False))
        for r in range(2)
    ]
    for step, (x, y) in enumerate(single):
        assert torch.equal(torch.cat([s[step][0] for s in shards]), x)
        assert torch.equal(torch.cat([s[step][1] for s in shards]), y)
    assert sorted(torch.cat([y for _, y in single]).tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_unaugmented_train_batches_are_the_centre_crops(folder):
    root, pixels = folder
    ds = load_dataset("imagefolder", root, **SMALL)
    x, y = next(iter(ds.train_batches(9, epoch=0, seed=0, augment=False)))
    expected = np.stack([a for _, a in pixels["train"]]).transpose(0, 3, 1, 2)
    order = epoch_permutation(9, seed=0, epoch=0).numpy()
    assert np.array_equal(denormalize(ds, x).numpy(), expected[order])
    assert np.array_equal(y.numpy(), order // 3)  # three training images per class


def test_empty_class_dir_names_it(folder):
    root, _ = folder
    (root / "train" / "fox").mkdir()
    with pytest.raises(DatasetError, match=r"class directory .*train/fox holds no images"):
        load_dataset("imagefolder", root, **SMALL)


def test_val_class_unknown_to_train(folder):
    root, _ = folder
    (root / "val" / "yak").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "val" / "yak" / "0.png")
    with pytest.raises(DatasetError, match="class directories not in train/: yak"):
        load_dataset("imagefolder", root, **SMALL)


def test_missing_val_dir(folder):
    root, _ = folder
    for path in (root / "val").rglob("*.png"):
        path.unlink()
    for path in (root / "val").iterdir():
        path.rmdir()
    (root / "val").rmdir()
    with pytest.raises(DatasetError, match=r"missing directory .*val; expected train/ and val/"):
        load_dataset("imagefolder", root, **SMALL)


@pytest.mark.parametrize("workers", [0, 1])
def test_unreadable_image_names_the_file(folder, workers):
    root, _ = folder
    bad = root / "val" / "dog" / "001.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n but then garbage")
    ds = load_dataset("imagefolder", root, image_size=8, resize=8, num_workers=workers)
    with pytest.raises(DatasetError, match=r"cannot decode image .*val/dog/001\.png"):
        list(ds.test_batches(2))


def test_unreadable_image_during_statistics(folder):
    root, _ = folder
    (root / "train" / "emu" / "000.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"cannot decode image .*train/emu/000\.png"):
        load_dataset("imagefolder", root, **SMALL)


@given(
    width=st.integers(1, 400),
    height=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_resized_box_inside_image(width, height, seed):
    left, top, w, h = random_resized_box(width, height, np.random.default_rng(seed))
    assert 0 <= left and 0 <= top and 0 < w and 0 < h
    assert left + w <= width and top + h <= height


@pytest.mark.parametrize(
    "options, message",
    [
        ({"resize": 4, "image_size": 8}, "resize must be an integer >= 8"),
        ({"num_workers": -1}, "num_workers must be an integer >= 0"),
        ({"limit_train": "3"}, "limit_train must be an integer >= 1"),
        ({"flip": 1}, "flip must be True or False"),
    ],
)
def test_bad_imagefolder_options(folder, options, message):
    root, _ = folder
    with pytest.raises(OptnetError, match=message):
        load_dataset("imagefolder", root, **{**SMALL, **options})


def test_limits_keep_every_class(folder):
    root, _ = folder
    ds = load_dataset("imagefolder", root, limit_train=3, limit_test=3, **SMALL)
    assert (ds.train_size, ds.test_size) == (3, 3)
    labels = torch.cat([y for _, y in ds.test_batches(3)])
    assert labels.tolist() == [0, 1, 2]
