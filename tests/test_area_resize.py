"""The area resize in bands: byte for byte what one cv2.resize call gives, whatever the sizes."""

import cv2
import numpy as np
import pytest

from inference import area_resize as ar
from inference.preprocess import stack_inputs


def _whole(pixels, size):
    return cv2.resize(pixels, (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("bands", [2, 3, 4])
def test_bands_give_the_bytes_of_one_call_for_many_sizes(monkeypatch, bands):
    monkeypatch.setattr(ar, "bands", lambda: bands)
    rng = np.random.default_rng(bands)
    split = 0
    for _ in range(120):
        size = int(rng.choice([112, 224, 252, 336]))  # 448 and up: OpenCV splits the call itself
        h, w = (int(v) for v in rng.integers(size, 3 * size, 2))
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        split += ar.band_plan(h, w, size) is not None
        assert np.array_equal(ar.area_resize(pixels, size), _whole(pixels, size)), (h, w, size)
    assert split > 70  # most sizes were cut into bands: the comparison is of bands, not of one call


def test_outputs_that_opencv_splits_itself_are_one_call(monkeypatch):
    calls = []
    real = ar.cv2.resize
    monkeypatch.setattr(ar, "bands", lambda: 2)
    monkeypatch.setattr(ar.cv2, "resize", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    pixels = np.zeros((2048, 2448, 3), np.uint8)
    ar.area_resize(pixels, 448)
    ar.area_resize(pixels, 224)
    assert calls == [(448, 448), (224, 112), (224, 112)]


def test_cuts_fall_where_an_output_edge_is_on_a_whole_input_pixel():
    assert ar.cuts(512, 224, 2) == [0, 112, 224]  # 512 / 224 = 16 / 7: every 7 rows, 112 -> input row 256
    assert ar.cuts(2048, 448, 4) == [0, 112, 224, 336, 448]
    assert ar.cuts(777, 224, 2) == [0, 128, 224]  # gcd 7 (777 = 3 x 7 x 37): a cut every 32 rows
    assert ar.cuts(901, 224, 2) == [0, 224]  # 901 = 17 x 53 shares no factor with 224: no cut inside
    for side, size in ((777, 224), (901, 448), (1000, 336)):
        for c in ar.cuts(side, size, 3)[1:-1]:
            assert (c * side) % size == 0


def test_columns_are_cut_where_rows_cannot_be(monkeypatch):
    monkeypatch.setattr(ar, "bands", lambda: 2)
    pixels = np.random.default_rng(0).integers(0, 256, (901, 1024, 3), dtype=np.uint8)  # 901: no row cut
    assert ar.cuts(901, 224, 2) == [0, 224] and len(ar.cuts(1024, 224, 2)) == 3
    assert np.array_equal(ar.area_resize(pixels, 224), _whole(pixels, 224))


def test_a_batch_is_resized_in_place_like_one_call_per_crop():
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((512, 512), (300, 200), (224, 224),
                                                                          (1000, 700), (100, 100), (224, 600))]
    batch = stack_inputs(crops, 224)
    assert batch.shape == (6, 224, 224, 3) and batch.dtype == np.uint8
    for crop, got in zip(crops, batch):
        shrinks = crop.shape[0] > 224 or crop.shape[1] > 224
        want = cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR)
        assert np.array_equal(got, want)


def test_bands_are_done_in_the_caller_when_no_thread_can_start(monkeypatch):
    class Closed:
        def submit(self, *args):
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(ar, "bands", lambda: 2)
    monkeypatch.setattr(ar, "_executor", lambda: Closed())
    pixels = np.random.default_rng(3).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    assert np.array_equal(ar.area_resize(pixels, 224), _whole(pixels, 224))
