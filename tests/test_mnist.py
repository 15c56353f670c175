"""data.mnist: the bundled digits, the fixed held-out split, the stated conversion, torchvision's layout."""
import gzip
import importlib

import numpy as np
import pytest

from data.mnist import mnist, raw_digits, read_idx_images, split_indices, thin, to_line_drawing

mnist_mod = importlib.import_module("data.mnist")  # the module (the attribute data.mnist is the function)


def test_bundled_split_is_fixed_disjoint_and_balanced():
    held = split_indices(5000, "heldout")
    train = split_indices(5000, "train")
    assert len(held) == 500 and len(train) == 4500
    assert not set(held) & set(train)
    labels = mnist_mod.bundled_labels()
    assert np.bincount(labels[held]).tolist() == [50] * 10
    x = mnist(split="heldout")
    assert x.shape == (500, 28, 28) and x.dtype == np.uint8
    assert mnist(split="train").shape == (4500, 28, 28)
    # the held-out digits are exactly the bundled digits at index % 10 == 9
    assert np.array_equal(raw_digits(split="heldout")[0], mnist_mod._bundled()[9])
    assert np.array_equal(raw_digits(split="train")[9], mnist_mod._bundled()[10])
    assert np.array_equal(to_line_drawing(mnist_mod._bundled()[9]), x[0])


def test_conversion_is_a_binary_one_pixel_skeleton():
    x = mnist(split="heldout")[:50]
    assert set(np.unique(x)) <= {0, 255}
    for img in x:
        ink = img > 0
        assert ink.sum() > 10
        # one pixel wide: no 2x2 block fully inked
        blocks = ink[:-1, :-1] & ink[1:, :-1] & ink[:-1, 1:] & ink[1:, 1:]
        assert not blocks.any()
    # the skeleton lies inside the thresholded digit
    grey = raw_digits(split="heldout")[:50]
    assert not ((x > 0) & (grey < mnist_mod.THRESHOLD)).any()


def test_thin_keeps_a_thick_bar_as_a_line():
    bar = np.zeros((12, 20), np.uint8)
    bar[4:8, 2:18] = 1
    sk = thin(bar)
    assert sk.sum() >= 10                       # still a line of about the bar's length
    assert (sk.sum(axis=0) <= 1).all()          # one pixel thick
    assert sk[:4].sum() == 0 and sk[8:].sum() == 0


def test_other_sizes():
    x = mnist(split="heldout", size=32)
    assert x.shape == (500, 32, 32)
    assert set(np.unique(x)) <= {0, 255}


def _write_idx(path, images, compress):
    n, h, w = images.shape
    data = (2051).to_bytes(4, "big") + n.to_bytes(4, "big") + h.to_bytes(4, "big") + w.to_bytes(4, "big")
    data += images.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def test_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    digits = raw_digits(split="train")[:7]
    _write_idx(raw / "train-images-idx3-ubyte", digits, compress=True)
    _write_idx(raw / "t10k-images-idx3-ubyte", digits[:3], compress=False)
    tr = mnist(root=tmp_path, split="train")
    assert tr.shape == (7, 28, 28)
    assert np.array_equal(tr, to_line_drawing(digits))
    assert mnist(root=tmp_path, split="heldout").shape == (3, 28, 28)
    assert np.array_equal(read_idx_images(raw / "t10k-images-idx3-ubyte"), digits[:3])


def test_bad_roots_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST/raw"):
        mnist(root=tmp_path / "nowhere")
    bad = tmp_path / "MNIST" / "raw"
    bad.mkdir(parents=True)
    (bad / "train-images-idx3-ubyte").write_bytes(b"not an idx file at all")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte"):
        mnist(root=tmp_path, split="train")
    with pytest.raises(ValueError, match="split"):
        mnist(split="test")


def test_labels_follow_the_split_order():
    from data.mnist import labels
    train, held = labels("train"), labels("heldout")
    assert len(train) == 4500 and len(held) == 500
    assert np.array_equal(np.bincount(held, minlength=10), np.full(10, 50))     # 50 a class, sorted by class
    assert np.all(np.diff(held) >= 0)
