import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from spikereplay import cli
from spikereplay.datasets import ImageArrays, split_tasks
from spikereplay.datasets import mnist as data
from spikereplay.datasets.idx import parse_idx, read_idx_file
from spikereplay.datasets.mnist import resolve_mnist_dir
from spikereplay.datasets.tasks import check_images_labels
from spikereplay.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_parse_idx_reads_shape_and_values():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(images))
    assert parsed.shape == (2, 3, 4)
    assert parsed[1, 2, 3] == 23


def test_parse_idx_rejects_wrong_magic():
    raw = bytearray(idx_bytes(np.zeros(5, dtype=np.uint8)))
    raw[2] = 0x0D  # float data, not unsigned bytes
    with pytest.raises(DataError, match="wrong magic"):
        parse_idx(bytes(raw), "labels.idx")


def test_parse_idx_rejects_truncated_file():
    raw = idx_bytes(np.zeros((3, 2, 2), dtype=np.uint8))
    with pytest.raises(DataError, match="size mismatch.*x.idx|x.idx: size mismatch"):
        parse_idx(raw[:-1], "x.idx")
    with pytest.raises(DataError, match="truncated"):
        parse_idx(raw[:2], "x.idx")


def test_read_idx_file_gz_and_raw_and_hash(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    raw = idx_bytes(labels)
    (tmp_path / "l.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "l").write_bytes(raw)
    sha = hashlib.sha256(raw).hexdigest()
    assert read_idx_file(tmp_path / "l.gz", sha).tolist() == [3, 1, 4, 1, 5]
    assert read_idx_file(tmp_path / "l", sha).tolist() == [3, 1, 4, 1, 5]
    with pytest.raises(DataError, match="SHA-256"):
        read_idx_file(tmp_path / "l", "0" * 64)


def test_corrupt_gzip_names_the_file(tmp_path):
    bad = tmp_path / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00" * 100)[:30])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        read_idx_file(bad)


def test_corrupt_deflate_stream_names_the_file(tmp_path):
    packed = bytearray(gzip.compress(bytes(range(256)) * 40))
    packed[20:40] = b"\xff" * 20  # damage the compressed data, keep the gzip header
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bytes(packed))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        read_idx_file(bad)


def test_labels_outside_0_9_are_refused():
    with pytest.raises(DataError, match="label 12"):
        check_images_labels(np.zeros((2, 28, 28)), np.array([1, 12]), "set", num_classes=10)
    with pytest.raises(DataError, match="label 3 outside 0..2"):
        check_images_labels(np.zeros((2, 28, 28)), np.array([1, 3]), "set", num_classes=3)


def test_bundled_files_pass_their_checksums():
    for stem, sha in data.MNIST_SHA256.items():
        assert read_idx_file(data.REPO_DATA_DIR / f"{stem}.gz", sha).shape[0] in (60000, 10000)


def test_explicit_root_without_files_is_an_error(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path)):
        resolve_mnist_dir(tmp_path)


def test_missing_everywhere_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "REPO_DATA_DIR", tmp_path / "repo")
    monkeypatch.setattr(data, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv("SPIKEREPLAY_DATA", raising=False)
    with pytest.raises(DataError) as info:
        resolve_mnist_dir(None, download=False)
    assert str(tmp_path / "repo") in str(info.value) and str(tmp_path / "cache") in str(info.value)


def test_env_var_comes_before_repo(tmp_path, monkeypatch):
    for stem in data.MNIST_SHA256:
        (tmp_path / f"{stem}.gz").write_bytes(b"")
    monkeypatch.setenv("SPIKEREPLAY_DATA", str(tmp_path))
    assert resolve_mnist_dir(None) == tmp_path


def fake_mnist(per_class_train=20, per_class_test=5):
    train_y = torch.arange(10).repeat_interleave(per_class_train)
    test_y = torch.arange(10).repeat_interleave(per_class_test)
    train_x = torch.arange(train_y.numel(), dtype=torch.int64).view(-1, 1, 1).expand(-1, 28, 28).to(torch.uint8)
    return ImageArrays(train_x, train_y, torch.zeros(test_y.numel(), 28, 28, dtype=torch.uint8), test_y)


def test_split_tasks_classes_sizes_and_disjoint_val():
    order = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    tasks = split_tasks(fake_mnist(), order, val_fraction=0.1, seed=0)
    assert [t.classes for t in tasks] == [tuple(c) for c in order]
    for task in tasks:
        assert set(task.train_y.tolist()) == set(task.classes) == set(task.test_y.tolist())
        assert task.train_x.shape[0] == 36 and task.val_x.shape[0] == 4 and task.test_x.shape[0] == 10
        # the image value identifies the sample: val and train must not share one
        train_ids = set(task.train_x[:, 0, 0].tolist())
        assert not train_ids & set(task.val_x[:, 0, 0].tolist())


def test_val_split_is_seeded():
    order = [[0, 1]]
    a = split_tasks(fake_mnist(), order, 0.25, seed=3)[0]
    b = split_tasks(fake_mnist(), order, 0.25, seed=3)[0]
    c = split_tasks(fake_mnist(), order, 0.25, seed=4)[0]
    assert torch.equal(a.val_x, b.val_x)
    assert not torch.equal(a.val_x, c.val_x)


def test_custom_class_order_and_subsampling():
    tasks = split_tasks(fake_mnist(), [[9, 3, 1]], 0.0, seed=0, train_per_class=7, test_per_class=2)
    assert tasks[0].classes == (9, 3, 1)
    assert sorted(tasks[0].train_y.tolist()) == [1] * 7 + [3] * 7 + [9] * 7
    assert tasks[0].test_x.shape[0] == 6


def test_a_folder_of_the_other_mnist_like_dataset_is_refused_by_name_never_loaded():
    from spikereplay.datasets import load_dataset

    with pytest.raises(DataError, match=r"data/mnist holds mnist, not fashion_mnist \(the file names are the same\)"):
        load_dataset("fashion_mnist", "data/mnist")


def test_missing_fashion_mnist_says_where_it_looked_and_how_to_install_it(tmp_path, monkeypatch):
    from spikereplay.datasets import fashion_mnist, load_dataset

    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setenv("SPIKEREPLAY_FASHION_MNIST", str(tmp_path / "mine"))
    with pytest.raises(DataError) as caught:
        load_dataset("fashion_mnist")
    message = str(caught.value)
    assert (
        f"{tmp_path / 'mine'}, {tmp_path / 'debian'}" in message and "apt-get install dataset-fashion-mnist" in message
    )


def test_a_fashion_mnist_run_without_its_files_is_one_error_line_and_nothing_is_written(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    runs = tmp_path / "runs"
    quick = str(Path(__file__).resolve().parents[1] / "configs" / "quick.yaml")
    argv = [
        "train",
        "--config",
        quick,
        "--data-dir",
        str(tmp_path / "empty"),
        "data.dataset=fashion_mnist",
        f"output.runs_dir={runs}",
    ]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"Fashion-MNIST not found in {tmp_path / 'empty'}" in err and "apt-get install dataset-fashion-mnist" in err
    assert not runs.exists()


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="dataset-fashion-mnist not installed"
)
def test_fashion_mnist_loads_checked_with_its_ten_named_classes():
    from spikereplay.datasets import dataset_info, load_dataset

    arrays = load_dataset("fashion_mnist")
    assert arrays.train_images.shape == (60000, 28, 28) and arrays.test_images.shape == (10000, 28, 28)
    assert sorted(arrays.train_labels.unique().tolist()) == list(range(10))
    # the first test images are an ankle boot, a pullover and two trousers
    info = dataset_info("fashion_mnist")
    assert [info.class_name(c) for c in arrays.test_labels[:4].tolist()] == [
        "Ankle boot",
        "Pullover",
        "Trouser",
        "Trouser",
    ]
