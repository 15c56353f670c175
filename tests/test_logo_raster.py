"""The numba rasterizer against the slow references, and its batch API."""
import numpy as np
import pytest

import logo
from logo.reference import rasterize_reference, run_reference


@pytest.fixture(scope="module")
def tasks():
    from data import dreamcoder_tasks
    return dreamcoder_tasks()


@pytest.mark.parametrize("size, every", [(28, 1), (32, 2), (64, 4), (128, 8)])
def test_matches_point_sampling_reference(tasks, size, every):
    """Same sample points as the numba scan-line fill: identical up to samples exactly on an edge."""
    for t in tasks[::every]:
        segs = run_reference(t.program)
        fast = logo.render(t.program, size=size).astype(int)
        ref = rasterize_reference(segs, size).astype(int)
        diff = np.abs(fast - ref)
        assert diff.max() <= 1, t.name  # a few boundary samples of 1024 in a pixel at most
        assert (diff > 0).mean() < 0.01, t.name


def test_close_to_true_coverage(tasks):
    """Against dense 64x64 sampling (close to exact area): small mean and bounded max error, same ink."""
    for t in tasks[::2]:
        segs = run_reference(t.program)
        fast = logo.render(t.program, size=28).astype(float)
        exact = rasterize_reference(segs, 28, rows=64, cols=64).astype(float)
        inked = exact > 0
        assert np.abs(fast - exact)[inked].mean() < 8, t.name
        assert np.abs(fast - exact).max() <= 40, t.name
        # 16 sample rows quantise a horizontal stroke's thickness to 1/16 px: up to +-9% ink for the
        # 0.7 px pen at 28 px (x is exact); plus rounding on tiny drawings
        assert abs(fast.sum() - exact.sum()) <= 0.10 * exact.sum() + 16, t.name


def test_overlaps_do_not_add_up():
    once = logo.render("(move (* ul 3) 0)", size=32)
    twice = logo.render("(move (* ul 3) (/ ua 2)) (move (* ul 3) (/ ua 2))", size=32)
    np.testing.assert_array_equal(once, twice)


def test_geometry_pen_width_and_orientation():
    # a horizontal 3-unit line at size 90 (10 px per unit): 30 px long, 2.25 px thick, centred
    img = logo.render("(move (* ul 3) 0)", size=90)
    rows = np.flatnonzero(img.sum(axis=1))
    cols = np.flatnonzero(img.sum(axis=0))
    assert cols.min() == 30 and cols.max() == 59
    assert img.sum() / 255 == pytest.approx(30 * 2.25, rel=0.03)
    assert 43 <= rows.min() and rows.max() <= 46
    # y points up: right then up draws an L whose horizontal stroke is at the bottom of the image
    corner = logo.render("(move ul (/ ua 4)) (move ul 0)", size=90)  # (4,4)-(5,4)-(5,5) after centring
    top_rows, bottom_rows = corner[:45], corner[45:]
    assert bottom_rows[:, 40:46].sum() > 0      # the horizontal stroke, left part
    assert top_rows[:, :46].sum() == 0          # nothing top-left
    assert top_rows[:, 48:52].sum() > 0         # the vertical stroke reaches the top half


def test_render_batch_equals_single_renders_and_reports_failures(tasks):
    programs = [t.program for t in tasks[:20]]
    batch = logo.render_batch(programs, size=32)
    for p, img in zip(programs, batch):
        np.testing.assert_array_equal(img, logo.render(p, size=32))
    images, ok = logo.render_batch(["(move ul 0)", "(move (/ ul 0) 0)", "(nope 1)", "(move ul 0"], errors="blank")
    assert ok.tolist() == [True, False, False, False]
    assert images[0].max() > 0 and images[1:].max() == 0
    with pytest.raises(logo.NumericRangeError):
        logo.render_batch(["(move ul 0)", "(move (/ ul 0) 0)"])


def test_offcanvas_is_clipped_and_detected():
    segs = logo.run("(move (* ul (* 5 2)) 0)")
    assert not logo.contained(segs)
    img = logo.render("(move (* ul (* 5 2)) 0)", size=28)
    assert img[:, 0].max() > 0 and img[:, -1].max() > 0
    assert logo.contained(logo.run("(move (* ul 8) 0)"))
