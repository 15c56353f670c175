"""One reader of image files: `logo db nearest IMG` and `logo solve --tasks DIR` see the same drawing."""
import numpy as np
import pytest
from PIL import Image

from app.cli import main
from data.db import Database
from dream.search.targets import load_targets


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("read") / "db.sqlite"
    assert main(["db", "build", str(path), "--size", "80", "--workers", "1", "--chunk-size", "80", "--seed", "2",
                 "--quiet"]) == 0
    return path


def _variants(ink: np.ndarray, folder):
    """Three files of one drawing (uint8, 255 = ink) that a careless reader gets wrong."""
    s = ink.shape[0]
    rgba = np.zeros((s, s, 4), np.uint8)               # black ink on a transparent background
    rgba[..., 3] = ink
    Image.fromarray(rgba, "RGBA").save(folder / "a_transparent.png")
    Image.fromarray(255 - ink, "L").save(folder / "b_dark_on_light.png")
    wide = np.full((s, 2 * s), 255, np.uint8)          # dark on light, twice as wide as high
    wide[:, s // 2:s // 2 + s] = 255 - ink
    Image.fromarray(wide, "L").save(folder / "c_wide.png")
    return ["a_transparent.png", "b_dark_on_light.png", "c_wide.png"]


def test_db_nearest_and_solve_read_a_png_the_same(db_path, tmp_path, capsys, monkeypatch):
    with Database(db_path) as db:
        size = db.image_size
        ids = [eid for eid, _ in db.heads()]
        images = db.images(ids)
    eid = ids[int(np.argmax([(im >= 64).sum() for im in images]))]      # a drawing with plenty of ink
    ink = images[ids.index(eid)]
    folder = tmp_path / "pngs"
    folder.mkdir()
    names = _variants(ink, folder)

    _, targets, errors = load_targets(str(folder), size=size)           # what `logo solve --tasks DIR` reads
    assert not errors and [t.name for t in targets] == names

    queries = []
    original = Database.nearest

    def recording(self, image, k=5):
        queries.append(np.array(image))
        return original(self, image, k)
    monkeypatch.setattr(Database, "nearest", recording)
    for name, target in zip(names, targets):
        capsys.readouterr()
        assert main(["db", "nearest", str(db_path), str(folder / name), "-k", "3"]) == 0
        printed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
        assert np.array_equal(queries[-1], target.image), name        # the same array
        with Database(db_path) as db:
            want = original(db, target.image, 3)
        assert [int(p[0]) for p in printed] == [e for e, _ in want], name      # the same neighbours
        assert [float(p[1]) for p in printed] == pytest.approx([d for _, d in want], abs=1e-4)
    # the reader is right, not only consistent: transparency and a light background give the drawing itself
    assert np.array_equal(targets[0].image, ink) and np.array_equal(targets[1].image, ink)
    assert int(queries[0].astype(int).sum()) > 0


def test_db_nearest_names_an_empty_image(db_path, tmp_path, capsys):
    Image.new("L", (20, 20), 255).save(tmp_path / "blank.png")
    assert main(["db", "nearest", str(db_path), str(tmp_path / "blank.png")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "blank.png" in err[0] and "empty" in err[0]
