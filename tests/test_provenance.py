"""Memory-bank provenance (which taught image and patch each bank row came from) and the nearest taught part,
checked against the features themselves and a brute-force search."""

import json
import shutil

import numpy as np
import pytest

from inference import (NEAREST_NOT_AVAILABLE, PROVENANCE_FILE, Circle, Engine, activate_version, copy_model,
                       nearest_taught)
from inference.provenance import BankProvenance, model_provenance
from inference.synthetic import CENTRE, RADIUS, disc, write_discs
from nearest_brute import brute_nearest, features

ROI = Circle(CENTRE[0], CENTRE[1], RADIUS)


@pytest.fixture(scope="module")
def engine(tiny_config):
    return Engine(tiny_config.replace(distance="l2", n_neighbors=1))


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    return write_discs(tmp_path_factory.mktemp("ok"), range(6))


@pytest.fixture(scope="module")
def fitted(engine, taught, tmp_path_factory):
    folder = tmp_path_factory.mktemp("proj")
    return folder, engine.fit(folder, taught, roi=ROI)


@pytest.fixture(scope="module")
def full(tiny_config):
    """Every bank row in the index: a taught image's own patches are in it, so it is its own nearest part."""
    return Engine(tiny_config.replace(coreset_ratio=1.0, n_neighbors=1))


@pytest.fixture(scope="module")
def full_fit(full, taught, tmp_path_factory):
    folder = tmp_path_factory.mktemp("full")
    return folder, full.fit(folder, taught[:4], roi=ROI)


def _provenance(folder) -> BankProvenance:
    return BankProvenance.from_bytes((folder / PROVENANCE_FILE).read_bytes())


def test_every_bank_row_names_its_taught_image_and_patch(engine, fitted, taught):
    folder, result = fitted
    prov = _provenance(folder)
    emb = np.load(folder / "embeddings.npy")
    assert prov.rows.dtype == np.int32 and prov.coreset.dtype == np.int32
    assert len(prov.rows) == result.n_embeddings and len(prov.coreset) == result.coreset_size
    assert sorted(set(prov.rows[:, 0])) == list(range(6)) and (prov.rows[:, 3] == 0).all()
    model = engine.load(folder)
    # Each row is the feature of the patch it names: embed the taught image again and look.
    for image in (0, 4):
        feats, _ = features(model, taught[image])
        mine = prov.rows[:, 0] == image
        r, c = prov.rows[mine, 1], prov.rows[mine, 2]
        grid = feats.reshape(feats.shape[0], -1).T  # (h * w) x C, row-major like the rows' positions
        d = ((emb[mine][:, None, :] - grid[None, :, :]) ** 2).sum(-1)
        # The fit may embed in lower precision than inspection: each row is nearest to the patch it names.
        np.testing.assert_array_equal(d.argmin(1), r * feats.shape[2] + c)
    # The coreset rows are the index's vectors, in order.
    flat = model.searcher.cpu_index
    vectors = np.stack([flat.reconstruct(i) for i in range(flat.ntotal)])
    np.testing.assert_array_equal(vectors, emb[prov.coreset])


def test_the_nearest_taught_part_is_the_one_a_brute_force_search_finds(engine, fitted):
    folder, _ = fitted
    model = engine.load(folder)
    image = disc(300, scratch=True)[0]
    got = nearest_taught(model, image)
    assert got.available and got.file_state == "ok"
    want = brute_nearest(model, image)
    assert (got.image_index, got.votes, got.considered) == (want.winner, want.votes, want.considered)
    assert got.patch == want.patch and got.taught_position == want.taught_position
    assert got.distance == pytest.approx(want.distance, rel=1e-3, abs=1e-3)
    assert got.name == model.record.images[want.winner]["name"]


def test_a_taught_image_is_nearest_to_itself_at_its_own_patch(full, full_fit, taught):
    model = full.load(full_fit[0])
    got = nearest_taught(model, taught[3])
    assert got.available and got.image_index == 3 and got.name == str(taught[3])
    # Its own patch, up to the fit's lower embedding precision: far nearer than a scratched part's worst patch.
    assert got.distance < 0.1 * nearest_taught(model, disc(300, scratch=True)[0]).distance
    assert got.taught_position == got.patch
    assert got.taught_patch == got.part_patch  # the same pixels in both images (no alignment)
    x0, y0, x1, y1 = ROI.bounds()
    xs, ys = [pt[0] for pt in got.part_patch], [pt[1] for pt in got.part_patch]
    assert x0 - 1 <= min(xs) < max(xs) <= x1 + 1 and y0 - 1 <= min(ys) < max(ys) <= y1 + 1


def test_add_keeps_the_old_rows_and_names_the_new_images(full, full_fit, tmp_path):
    engine, folder = full, tmp_path / "proj"
    shutil.copytree(full_fit[0], folder)
    before = _provenance(folder)
    extra = write_discs(tmp_path / "more", range(40, 42))
    result = engine.add(folder, extra)
    after = _provenance(folder)
    emb = np.load(folder / "embeddings.npy")
    assert len(after.rows) == result.n_embeddings == len(emb) and len(after.coreset) == result.coreset_size
    np.testing.assert_array_equal(after.rows[:len(before.rows)], before.rows)
    assert sorted(set(after.rows[len(before.rows):, 0])) == [4, 5]
    model = engine.load(folder)
    vectors = np.stack([model.searcher.cpu_index.reconstruct(i) for i in range(model.searcher.ntotal)])
    np.testing.assert_array_equal(vectors, emb[after.coreset])
    got = nearest_taught(model, extra[1])
    assert got.available and got.image_index == 5 and got.name == str(extra[1])
    # Versions: the previous version keeps its own provenance, and goes live with it.
    activate_version(folder, "v1")
    older = engine.load(folder)
    assert len(model_provenance(older).coreset) == older.searcher.ntotal == before.coreset.size
    # Save As carries it; a taught file that is gone is said.
    copy_model(folder, tmp_path / "copy")
    extra[0].unlink()
    moved = nearest_taught(engine.load(tmp_path / "copy", ), disc(41)[0])
    assert moved.available and len(model_provenance(engine.load(tmp_path / "copy")).rows) == len(before.rows)


def test_a_missing_taught_file_is_said(full, tmp_path):
    engine = full
    paths = write_discs(tmp_path / "ok", range(3))
    engine.fit(tmp_path / "p", paths, roi=ROI)
    paths[1].unlink()
    got = nearest_taught(engine.load(tmp_path / "p"), disc(1)[0])
    assert got.available and got.image_index == 1 and got.file_state == "missing"


def _strip_provenance(folder):
    """The project as a model fitted before provenance was kept: no file, no manifest entry, no versions."""
    shutil.rmtree(folder / "versions")
    (folder / "active_version.json").unlink()
    (folder / PROVENANCE_FILE).unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"][PROVENANCE_FILE]
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_an_old_model_without_provenance_inspects_and_says_refit(full, full_fit, taught, tmp_path):
    engine, folder = full, tmp_path / "old"
    shutil.copytree(full_fit[0], folder)
    _strip_provenance(folder)
    model = engine.load(folder)
    assert engine.infer(model, disc(300, scratch=True)[0]).score > 0
    got = nearest_taught(model, taught[0])
    assert not got.available and got.note == NEAREST_NOT_AVAILABLE
    # An add records its own rows; the old ones are unknown, never named as another image.
    extra = write_discs(tmp_path / "more", [50])
    engine.add(folder, extra)
    prov = _provenance(folder)
    old = full_fit[1].n_embeddings
    assert (prov.rows[:old] == -1).all() and (prov.rows[old:, 0] == 4).all()
    model = engine.load(folder)
    got = nearest_taught(model, extra[0])
    assert got.available and got.image_index == 4
    # A taught part of the old model matches rows of unknown origin: said, not guessed.
    old_part = nearest_taught(model, taught[0])
    assert not old_part.available and "refit" in old_part.note


def test_augmented_copies_name_the_place_in_the_image_itself(tiny_config, tmp_path):
    """A flipped copy's patch is recorded where it lies in the image (its column mirrored back)."""
    config = tiny_config.replace(coreset_ratio=1.0, augment=True, augment_copies=1, augment_flips=True)
    engine = Engine(config)
    paths = write_discs(tmp_path / "ok", [7])
    engine.fit(tmp_path / "p", paths, roi=ROI)
    prov, emb = _provenance(tmp_path / "p"), np.load(tmp_path / "p" / "embeddings.npy")
    assert sorted(set(prov.rows[:, 3])) == [0, 1, 2, 3]  # the image, one turned copy, two flips
    model = engine.load(tmp_path / "p")
    _, p = features(model, paths[0])
    flipped = np.ascontiguousarray(p.crop.pixels[:, ::-1])
    from inference.features import embed_batch

    grid = embed_batch(model.backbone, [flipped])[0]
    c, h, w = grid.shape
    mine = prov.rows[:, 3] == 2  # the horizontal flip
    r, col = prov.rows[mine, 1], prov.rows[mine, 2]
    d = ((emb[mine][:, None, :] - grid.reshape(c, -1).T[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(d.argmin(1), r * w + (w - 1 - col))  # found at the mirrored column of the copy


def test_turned_copies_of_a_symmetric_part_name_the_place_in_the_image_itself(tiny_config, tmp_path):
    """part_symmetry rot90: a quarter-turned copy's patch is recorded where it lies in the image (turned back)."""
    from inference.features import embed_batch
    from inference.foreground import apply, symmetric_copies, transforms

    config = tiny_config.replace(coreset_ratio=1.0, part_symmetry="rot90")
    engine = Engine(config)
    paths = write_discs(tmp_path / "ok", [8])
    engine.fit(tmp_path / "p", paths, roi=ROI)
    prov, emb = _provenance(tmp_path / "p"), np.load(tmp_path / "p" / "embeddings.npy")
    assert sorted(set(prov.rows[:, 3])) == [0, 1, 2, 3]  # the image and its three quarter turns
    model = engine.load(tmp_path / "p")
    _, p = features(model, paths[0])
    turned = symmetric_copies(p.crop.pixels, "rot90", config.input_size)[0]  # copy 1: one quarter turn
    grid = embed_batch(model.backbone, [turned])[0]
    c, h, w = grid.shape
    source = apply(np.arange(h * w).reshape(h, w), transforms("rot90")[1]).ravel()  # copy cell -> image cell
    where_in_copy = np.argsort(source)  # image cell -> copy cell
    mine = prov.rows[:, 3] == 1
    image_cells = prov.rows[mine, 1] * w + prov.rows[mine, 2]
    d = ((emb[mine][:, None, :] - grid.reshape(c, -1).T[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(d.argmin(1), where_in_copy[image_cells])
    assert not np.array_equal(where_in_copy[image_cells], image_cells)  # the turn moved them: the test can fail


def test_copies_turned_between_quarter_turns_name_cells_inside_the_image(tiny_config, tmp_path):
    """part_symmetry turns: a copy turned by 22.5 deg keeps only cells that came from the image, each recorded at
    the image cell it came from (nearest); the corners it brought in from outside are in no bank row."""
    from inference.foreground import apply, transforms

    config = tiny_config.replace(coreset_ratio=1.0, part_symmetry="turns")
    engine = Engine(config)
    engine.fit(tmp_path / "p", write_discs(tmp_path / "ok", [8]), roi=ROI)
    prov = _provenance(tmp_path / "p")
    h, w = engine.load(tmp_path / "p").backbone.token_shape
    assert sorted(set(prov.rows[:, 3])) == list(range(16))
    assert (prov.rows[:, 1] >= 0).all() and (prov.rows[:, 1] < h).all()
    assert (prov.rows[:, 2] >= 0).all() and (prov.rows[:, 2] < w).all()
    kinds = transforms("turns")
    between = [i for i, t in enumerate(kinds) if len(t) > 2 and t[2] % 90]
    for copy in between[:2]:
        inside = apply(np.ones((h, w), bool), kinds[copy])
        mine = prov.rows[:, 3] == copy
        assert 0 < mine.sum() <= inside.sum() < h * w  # the corners are left out
        source = apply(np.arange(h * w).reshape(h, w), kinds[copy], fill=-1)
        recorded = prov.rows[mine, 1] * w + prov.rows[mine, 2]
        assert set(recorded.tolist()) <= set(source[inside].tolist())  # each the image cell its copy cell came from
        assert len(set(recorded.tolist())) > 0.8 * mine.sum()  # nearest sampling repeats few cells
