"""dream.search.score: the solve criterion, the graded distance, IoU, and how outside images become targets."""
import numpy as np
import pytest
from PIL import Image

import logo
from dream.search.score import (SOLVE_TOLERANCE, BadImage, Scorer, distance, iou, load_target_image, solved,
                         solved_batch)

SQUARE = "(loop i 4 (move (* ul 3) (/ ua 4)))"


def test_solved_is_exact_up_to_the_stated_tolerance():
    a = logo.render(SQUARE, 28)
    assert solved(a, a)
    # an equivalent program drawn another way (four explicit moves) solves it too
    b = logo.render("(move (* ul 3) (/ ua 4)) (move (* ul 3) (/ ua 4)) (move (* ul 3) (/ ua 4)) "
                    "(move (* ul 3) (/ ua 4))", 28)
    assert solved(b, a)
    c = a.copy()
    c[0, 0] = SOLVE_TOLERANCE
    assert solved(c, a)
    c[0, 0] = SOLVE_TOLERANCE + 1
    assert not solved(c, a)
    assert not solved(logo.render("(loop i 4 (move (* ul 2) (/ ua 4)))", 28), a)
    assert not solved(a[:27, :27], a)
    assert solved_batch(np.stack([a, c]), a).tolist() == [True, False]


def test_distance_orders_partial_progress():
    target = logo.render(SQUARE, 32)
    empty = np.zeros_like(target)
    three_sides = logo.render("(loop i 3 (move (* ul 3) (/ ua 4)))", 32)
    triangle = logo.render("(loop i 3 (move (* ul 3) (/ ua 3)))", 32)
    assert distance(target, target) == 0.0
    assert distance(empty, target) == pytest.approx(1.0)
    assert distance(three_sides, target) < distance(triangle, target)
    assert distance(three_sides, target) < 1.0
    s = Scorer(target)
    d = s.distance(np.stack([target, empty, three_sides]))
    assert d[0] == 0 and d[1] == pytest.approx(1.0) and 0 < d[2] < 1


def test_iou_with_one_pixel_tolerance():
    a = np.zeros((28, 28), np.uint8)
    a[10, 5:20] = 255
    b = np.zeros_like(a)
    b[11, 5:20] = 255            # one pixel lower: nearly the same stroke
    far = np.zeros_like(a)
    far[20, 5:20] = 255
    assert iou(a, a) == 1.0
    assert iou(a, b) == pytest.approx(0.5)   # dilated bands 9..11 and 10..12 share two of four rows
    assert iou(a, far) == 0.0
    assert iou(np.zeros_like(a), np.zeros_like(a)) == 1.0


def _ink_png(path, mode="L", size=(28, 28), light_background=True):
    arr = np.zeros(size[::-1], np.uint8)
    h, w = arr.shape
    arr[h // 4:3 * h // 4, w // 2] = 255          # a vertical stroke
    if light_background:
        arr = 255 - arr
    img = Image.fromarray(arr, "L")
    if mode != "L":
        img = img.convert(mode)
    img.save(path)
    return path


def test_load_target_image_conversions(tmp_path):
    a = load_target_image(_ink_png(tmp_path / "a.png"), 28)
    assert a.dtype == np.uint8 and a.shape == (28, 28)
    assert a[14, 14] == 255 and a[0, 0] == 0        # dark-on-light inverted: ink is high
    # white-on-black is kept as it is
    b = load_target_image(_ink_png(tmp_path / "b.png", light_background=False), 28)
    assert np.array_equal(a, b)
    # colour modes give the same drawing
    for mode in ("RGB", "RGBA", "1", "P"):
        c = load_target_image(_ink_png(tmp_path / f"c_{mode}.png", mode=mode), 28)
        assert np.array_equal(c > 127, a > 127), mode
    # another size: shrunk with a box filter, the stroke stays in the middle column band
    d = load_target_image(_ink_png(tmp_path / "d.png", size=(112, 112)), 28)
    assert d.shape == (28, 28) and d[14, 13:15].max() >= 64 and d[:, :10].max() == 0
    # non-square: padded to a square, centred
    e = load_target_image(_ink_png(tmp_path / "e.png", size=(56, 28)), 28)
    assert e.shape == (28, 28) and e[:7].max() == 0 and e[-7:].max() == 0 and e.max() > 64
    # transparent background composited onto white
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[7:21, 14] = (0, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    t = load_target_image(tmp_path / "t.png", 28)
    assert t[14, 14] == 255 and t[0, 0] == 0


def test_bad_images_name_the_file(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"this is not a png")
    with pytest.raises(BadImage, match="junk.png"):
        load_target_image(tmp_path / "junk.png")
    Image.new("L", (28, 28), 255).save(tmp_path / "blank.png")
    with pytest.raises(BadImage, match="blank.png.*empty"):
        load_target_image(tmp_path / "blank.png")
    with pytest.raises(BadImage, match="missing.png"):
        load_target_image(tmp_path / "missing.png")


def test_sixteen_bit_grey(tmp_path):
    arr = np.full((28, 28), 60000, np.uint16)
    arr[7:21, 14] = 1000                              # dark ink on a light 16-bit background
    Image.fromarray(arr).save(tmp_path / "g16.png")
    img = load_target_image(tmp_path / "g16.png", 28)
    assert img[14, 14] == 255 and img[0, 0] == 0


def test_the_compiled_score_is_the_numpy_definition_bit_for_bit():
    """The search scores a round in one compiled call; it must give exactly `reference_distance` (numpy:
    blur, squared difference, float32 pairwise sum) and `solved_batch`."""
    from data.generate import random_programs
    programs = random_programs(300, seed=3)
    (images, images28), verdicts, _ = logo.render_checked_sizes(programs, (32, 28), draw_off_canvas=True)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (20, 32, 32), dtype=np.uint8)          # dense images too
    images = np.concatenate([images, noise])
    images28 = np.concatenate([images28, rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)])
    for t in (0, 7, 150, 305):
        scorer = Scorer(images[t], images28[t])
        got, solved_got = scorer.score(images, images28)
        want = scorer.reference_distance(images)
        assert got.dtype == want.dtype == np.float32
        assert np.array_equal(got, want)
        assert np.array_equal(solved_got, solved_batch(images28, images28[t])) and solved_got[t]
    assert not Scorer(images[0]).score(images, images28)[1].any()      # no 28x28 target: nothing is solved
    assert Scorer(images[0], images28[0]).score(images[:0], images28[:0])[0].shape == (0,)
    with pytest.raises(ValueError, match="cannot be scored"):
        Scorer(images[0]).score(images28)


def test_the_reach_box_never_skips_a_drawing_that_solves():
    """`reach_box`: a drawing that solves the target inks past the box on every side, and one whose ink does
    not is not a solution (the search skips drawing those at 28x28)."""
    from data.generate import random_programs
    from data.tasks import all_tasks
    from dream.search.score import reach_box
    tasks = all_tasks(28)
    programs = [t.program for t in tasks] + random_programs(400, seed=6)
    (_, full28), verdicts, _ = logo.render_checked_sizes(programs, (32, 28), draw_off_canvas=True)
    skipped_some = 0
    for t in list(tasks)[::4]:
        target28 = logo.render(t.program, 28)
        box = reach_box(target28)
        (_, got28), _, reached = logo.render_checked_sizes(programs, (32, 28), draw_off_canvas=True, reach=box)
        truly = solved_batch(full28, target28)
        assert not (truly & ~reached).any()                              # no solution is skipped
        assert np.array_equal(solved_batch(got28, target28), truly)      # blank skipped images judge the same
        skipped_some += int((~reached).sum())
    assert skipped_some > 0
    assert reach_box(np.zeros((28, 28), np.uint8)) is None
    faint = np.full((28, 28), SOLVE_TOLERANCE, np.uint8)
    assert reach_box(faint) is None                                      # nothing above the tolerance
