"""Dataset readers (Sec. 7.1 data): official formats read back exactly, clear errors otherwise."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from optnet_nets.data import (
    DATASET_NAMES,
    DatasetError,
    channel_stats,
    dataset_options,
    default_data_dir,
    load_dataset,
)
from optnet_nets.fetch import FASHION_MNIST_DIR
from optnet_theory.errors import OptnetError
from tests.nets.data_files import (
    idx_bytes,
    write_cifar10,
    write_cifar100,
    write_idx_dir,
    write_pickle,
)


def denormalize(ds, images: torch.Tensor) -> torch.Tensor:
    """Invert the normalisation back to uint8 pixels (exact up to float rounding)."""
    mean = torch.tensor(ds.mean).view(-1, 1, 1)
    std = torch.tensor(ds.std).view(-1, 1, 1)
    return ((images * std + mean) * 255).round().to(torch.uint8)


def all_test(ds) -> tuple[torch.Tensor, torch.Tensor]:
    batches = list(ds.test_batches(5))
    return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])


def reference_stats(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population std of (N, C, H, W) uint8 pixels, in [0, 1]."""
    values = pixels.astype(np.float64) / 255.0
    return values.mean(axis=(0, 2, 3)), values.std(axis=(0, 2, 3))


# --- registry -------------------------------------------------------------------------------


def test_dataset_names_are_the_contract():
    assert DATASET_NAMES == (
        "cifar10",
        "cifar100",
        "mnist",
        "fashion-mnist",
        "imagefolder",
        "synthetic",
    )


def test_unknown_name_lists_the_choices():
    with pytest.raises(OptnetError) as info:
        load_dataset("cifar11")
    assert "cifar11" in str(info.value)
    for name in DATASET_NAMES:
        assert name in str(info.value)


def test_unknown_option_lists_accepted_options():
    with pytest.raises(OptnetError, match="no option.*colour.*accepted:.*num_train"):
        load_dataset("synthetic", colour=True)


def test_every_loader_declares_limit_options():
    for name in DATASET_NAMES:
        assert {"limit_train", "limit_test"} <= set(dataset_options(name)), name


def test_default_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if FASHION_MNIST_DIR.is_dir():
        assert default_data_dir("fashion-mnist") == FASHION_MNIST_DIR
    assert default_data_dir("cifar10") == tmp_path / "optnet" / "cifar-10-batches-py"
    assert default_data_dir("imagefolder") is None
    with pytest.raises(DatasetError, match="optnet data fetch cifar10$"):
        load_dataset("cifar10")
    with pytest.raises(OptnetError, match="needs a data directory"):
        load_dataset("imagefolder")


def test_synthetic_refuses_a_data_dir(tmp_path):
    with pytest.raises(OptnetError, match="takes no data_dir"):
        load_dataset("synthetic", tmp_path)


@pytest.mark.parametrize("device", ["tpu:x", 3.5])
def test_bad_device_is_a_clear_error(device):
    with pytest.raises(OptnetError, match="device"):
        load_dataset("synthetic", device=device)


def test_dataset_error_is_an_optnet_error():
    assert issubclass(DatasetError, OptnetError)


# --- CIFAR-10 / CIFAR-100 -------------------------------------------------------------------


@pytest.fixture
def cifar10(tmp_path):
    return tmp_path, write_cifar10(tmp_path)


def test_cifar10_pixels_and_labels_exact(cifar10):
    root, truth = cifar10
    ds = load_dataset("cifar10", root)
    assert (ds.num_classes, ds.in_channels, ds.image_size) == (10, 3, (32, 32))
    assert (ds.train_size, ds.test_size) == (30, 7)
    assert ds.class_names == tuple(f"name{k}" for k in range(10))
    expected = truth["train_data"].reshape(-1, 3, 32, 32)
    # Pixel (c, y, x) of image i is byte c*1024 + y*32 + x of row i (official layout).
    assert expected[4, 2, 5, 7] == truth["train_data"][4, 2 * 1024 + 5 * 32 + 7]
    assert np.array_equal(ds.train_images.numpy(), expected)
    assert np.array_equal(ds.train_labels.numpy(), truth["train_labels"])
    images, labels = all_test(ds)
    assert np.array_equal(
        denormalize(ds, images).numpy(), truth["test_data"].reshape(-1, 3, 32, 32)
    )
    assert np.array_equal(labels.numpy(), truth["test_labels"])
    mean, std = reference_stats(expected)
    assert np.allclose(ds.mean, mean, rtol=0, atol=1e-12)
    assert np.allclose(ds.std, std, rtol=0, atol=1e-12)


def test_cifar10_python2_pickles(tmp_path):
    # The official files were written by Python 2's cPickle: str keys, numpy.core globals.
    truth = write_cifar10(tmp_path, py2=True)
    blob = (truth["folder"] / "data_batch_1").read_bytes()
    assert b"cnumpy.core.multiarray\n_reconstruct" in blob and b"U\x04data" in blob
    ds = load_dataset("cifar10", tmp_path)
    assert np.array_equal(ds.train_images.numpy(), truth["train_data"].reshape(-1, 3, 32, 32))
    assert np.array_equal(ds.train_labels.numpy(), truth["train_labels"])
    assert ds.class_names[0] == "name0"


def test_cifar10_accepts_the_batches_folder_itself(cifar10):
    root, truth = cifar10
    ds = load_dataset("cifar10", truth["folder"])
    assert ds.train_size == 30


def test_cifar10_missing_batch_names_the_file(cifar10):
    root, truth = cifar10
    (truth["folder"] / "data_batch_3").unlink()
    with pytest.raises(DatasetError) as info:
        load_dataset("cifar10", root)
    message = str(info.value)
    assert "data_batch_3" in message and "cifar-10-batches-py" in message
    assert "data_batch_1" in message  # the expected layout is spelled out


def test_cifar10_missing_key_names_file_and_key(cifar10):
    root, truth = cifar10
    path = truth["folder"] / "data_batch_2"
    with path.open("rb") as handle:
        batch = pickle.load(handle)
    del batch[b"labels"]
    write_pickle(path, batch)
    with pytest.raises(DatasetError, match=r"data_batch_2 has no key b'labels'"):
        load_dataset("cifar10", root)


def test_cifar10_truncated_pickle(cifar10):
    root, truth = cifar10
    path = truth["folder"] / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetError, match="test_batch is not a readable CIFAR pickle"):
        load_dataset("cifar10", root)


def test_cifar10_wrong_data_shape(cifar10):
    root, truth = cifar10
    path = truth["folder"] / "data_batch_5"
    write_pickle(path, {b"data": np.zeros((6, 3000), np.uint8), b"labels": [0] * 6})
    with pytest.raises(DatasetError, match=r"data_batch_5: b'data' must be a uint8 array"):
        load_dataset("cifar10", root)


def test_cifar10_label_out_of_range(cifar10):
    root, truth = cifar10
    path = truth["folder"] / "data_batch_1"
    write_pickle(path, {b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 10]})
    with pytest.raises(DatasetError, match=r"data_batch_1: b'labels' must lie in 0..9"):
        load_dataset("cifar10", root)


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch should-not-exist",))


def test_cifar_pickle_cannot_run_code(cifar10, monkeypatch):
    root, truth = cifar10
    monkeypatch.chdir(root)
    write_pickle(truth["folder"] / "data_batch_4", {b"data": _Payload(), b"labels": []})
    with pytest.raises(DatasetError, match=r"data_batch_4 .*refusing to load (posix|os)\.system"):
        load_dataset("cifar10", root)
    assert not (root / "should-not-exist").exists()


def test_cifar_missing_directory(tmp_path):
    with pytest.raises(DatasetError, match="no cifar-100-python/ under"):
        load_dataset("cifar100", tmp_path)


@pytest.mark.parametrize("coarse", [False, True])
def test_cifar100_fine_and_coarse(tmp_path, coarse):
    truth = write_cifar100(tmp_path)
    ds = load_dataset("cifar100", tmp_path, coarse_labels=coarse)
    key = b"coarse_labels" if coarse else b"fine_labels"
    assert ds.num_classes == (20 if coarse else 100)
    assert ds.class_names[3] == ("coarse3" if coarse else "fine3")
    assert np.array_equal(ds.train_labels.numpy(), truth["train"][key])
    assert np.array_equal(ds.train_images.numpy(), truth["train"][b"data"].reshape(-1, 3, 32, 32))
    images, labels = all_test(ds)
    assert np.array_equal(labels.numpy(), truth["test"][key])
    assert np.array_equal(
        denormalize(ds, images).numpy(), truth["test"][b"data"].reshape(-1, 3, 32, 32)
    )


def test_cifar100_meta_missing_key(tmp_path):
    truth = write_cifar100(tmp_path)
    write_pickle(truth["folder"] / "meta", {b"fine_label_names": [b"x"] * 100})
    with pytest.raises(DatasetError, match="meta has no key b'coarse_label_names'"):
        load_dataset("cifar100", tmp_path, coarse_labels=True)


# --- IDX (MNIST, Fashion-MNIST) -------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    truth = write_idx_dir(tmp_path, gz=gz)
    ds = load_dataset("mnist", tmp_path)
    assert (ds.num_classes, ds.in_channels, ds.image_size) == (10, 1, (28, 28))
    assert np.array_equal(ds.train_images[:, 0].numpy(), truth["train-images-idx3-ubyte"])
    assert np.array_equal(ds.train_labels.numpy(), truth["train-labels-idx1-ubyte"])
    images, labels = all_test(ds)
    assert np.array_equal(denormalize(ds, images)[:, 0].numpy(), truth["t10k-images-idx3-ubyte"])
    assert np.array_equal(labels.numpy(), truth["t10k-labels-idx1-ubyte"])


def test_idx_dotted_names_in_raw_subdir(tmp_path):
    truth = write_idx_dir(tmp_path / "raw", gz=False)
    for path in (tmp_path / "raw").iterdir():
        path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    ds = load_dataset("fashion-mnist", tmp_path)
    assert np.array_equal(ds.train_labels.numpy(), truth["train-labels-idx1-ubyte"])
    assert ds.class_names[9] == "Ankle boot"


def test_idx_pad_to_32(tmp_path):
    truth = write_idx_dir(tmp_path)
    ds = load_dataset("mnist", tmp_path, pad_to=32)
    assert ds.image_size == (32, 32)
    assert np.array_equal(
        ds.train_images[:, 0, 2:30, 2:30].numpy(), truth["train-images-idx3-ubyte"]
    )
    assert int(ds.train_images[:, :, :2].sum() + ds.train_images[:, :, 30:].sum()) == 0
    with pytest.raises(OptnetError, match="pad_to must be an integer >= the image side 28"):
        load_dataset("mnist", tmp_path, pad_to=20)


def test_idx_wrong_magic(tmp_path):
    write_idx_dir(tmp_path, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    blob = bytearray(path.read_bytes())
    blob[3] = 3  # 2051 (images) where 2049 (labels) belongs
    path.write_bytes(bytes(blob))
    with pytest.raises(
        DatasetError, match=r"train-labels-idx1-ubyte has magic number 2051, expected 2049"
    ):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_truncated(tmp_path, gz):
    truth = write_idx_dir(tmp_path, gz=gz)
    blob = idx_bytes(truth["t10k-images-idx3-ubyte"])[:-10]
    name = "t10k-images-idx3-ubyte"
    if gz:
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(blob))
    else:
        (tmp_path / name).write_bytes(blob)
    with pytest.raises(DatasetError, match=rf"{name}(\.gz)? has \d+ bytes .*\(truncated\)"):
        load_dataset("mnist", tmp_path)


def test_idx_truncated_gzip_stream(tmp_path):
    write_idx_dir(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz is not a valid gzip file"):
        load_dataset("mnist", tmp_path)


def test_idx_missing_file_names_it_and_the_layout(tmp_path):
    write_idx_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", tmp_path)
    message = str(info.value)
    assert "missing t10k-labels-idx1-ubyte" in message and "train-images-idx3-ubyte" in message


def test_idx_count_mismatch(tmp_path):
    write_idx_dir(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DatasetError, match="holds 5 images but .*t10k-labels-idx1-ubyte holds 4"):
        load_dataset("mnist", tmp_path)


def test_idx_missing_directory(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("fashion-mnist", tmp_path / "nowhere")


@pytest.mark.skipif(
    not FASHION_MNIST_DIR.is_dir(),
    reason="Debian package dataset-fashion-mnist not installed (.ci/run installs it)",
)
def test_real_fashion_mnist():
    ds = load_dataset("fashion-mnist")
    assert (ds.train_size, ds.test_size, ds.num_classes) == (60000, 10000, 10)
    assert (ds.in_channels, ds.image_size) == (1, (28, 28))
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
    assert torch.bincount(ds.train_labels, minlength=10).tolist() == [6000] * 10
    assert torch.bincount(ds.test_labels, minlength=10).tolist() == [1000] * 10
    mean, std = reference_stats(ds.train_images[:5000].numpy())
    sample = channel_stats(ds.train_images[:5000])
    assert np.allclose(sample, (mean, std), rtol=0, atol=1e-12)
    # Normalised with the full split's statistics, the unaugmented training set is standardised.
    images = torch.cat([x for x, _ in ds.train_batches(10000, epoch=0, seed=0, augment=False)])
    assert abs(float(images.mean())) < 1e-4 and abs(float(images.std()) - 1) < 1e-4


# --- synthetic ------------------------------------------------------------------------------


def test_synthetic_is_deterministic_and_seeded():
    a, b = load_dataset("synthetic"), load_dataset("synthetic")
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_labels, b.test_labels)
    c = load_dataset("synthetic", seed=1)
    assert not torch.equal(a.train_images, c.train_images)


def test_synthetic_shape_options():
    ds = load_dataset(
        "synthetic", num_train=40, num_test=12, image_size=(12, 10), channels=1, num_classes=4
    )
    assert (ds.train_size, ds.test_size, ds.in_channels, ds.num_classes) == (40, 12, 1, 4)
    assert ds.image_size == (12, 10)
    x, y = next(ds.train_batches(8, epoch=0, seed=0))
    assert x.shape == (8, 1, 12, 10) and y.max() < 4


def _nearest_mean_accuracy(ds, train_labels: torch.Tensor) -> float:
    train = ds.train_images.flatten(1).double()
    means = torch.stack([train[train_labels == k].mean(0) for k in range(ds.num_classes)])
    test = ds.test_images.flatten(1).double()
    predicted = torch.cdist(test, means).argmin(1)
    return float((predicted == ds.test_labels).double().mean())


def test_synthetic_labels_are_learnable_from_images():
    ds = load_dataset("synthetic")
    assert _nearest_mean_accuracy(ds, ds.train_labels) > 0.95
    # Negative control: with the labels shuffled there is nothing to learn.
    shuffled = ds.train_labels[
        torch.randperm(ds.train_size, generator=torch.Generator().manual_seed(0))
    ]
    assert _nearest_mean_accuracy(ds, shuffled) < 0.3


@pytest.mark.parametrize(
    "options, message",
    [
        ({"num_train": 0}, "num_train must be an integer >= 1"),
        ({"image_size": (3, 4, 5)}, "image_size must be an int or"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"pad_fill": "mirror"}, "pad_fill must be one of normalized, pixel"),
        ({"padding": -2}, "padding must be an integer >= 0"),
        ({"limit_train": 0}, "limit_train must be an integer >= 1"),
        ({"limit_test": "10"}, "limit_test must be an integer >= 1, got '10'"),
        ({"image_size": 2.5}, "image_size must be an int or"),
        ({"flip": "yes"}, "flip must be True or False"),
        ({"noise": float("nan")}, "noise must be a number >= 0"),
    ],
)
def test_synthetic_bad_options(options, message):
    with pytest.raises(OptnetError, match=message):
        load_dataset("synthetic", **options)


def test_limit_train_keeps_evenly_spaced_images():
    full = load_dataset("synthetic", num_train=100)
    part = load_dataset("synthetic", num_train=100, limit_train=10, limit_test=7)
    assert (part.train_size, part.test_size) == (10, 7)
    assert torch.equal(part.train_images, full.train_images[::10])
    assert torch.equal(part.train_labels, full.train_labels[::10])
