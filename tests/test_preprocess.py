import io

import numpy as np
import pytest
from PIL import Image

from inference import ImageError, ImageTooLargeError, as_rgb8, expand_image_paths, load_image, read_image_file
from inference.preprocess import augmented_copies


def _rgb(h=20, w=30):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_grayscale_rgba_and_16bit_files(tmp_path):
    Image.fromarray(np.full((10, 12), 77, np.uint8)).save(tmp_path / "g.png")
    g = load_image(tmp_path / "g.png")
    assert g.shape == (10, 12, 3) and (g == 77).all()

    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[:5, :, 3] = 0  # top half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    a = load_image(tmp_path / "a.png")
    assert a.shape == (10, 12, 3) and (a[:5] == 0).all() and (a[5:, :, 0] == 200).all()

    sixteen = np.full((10, 12), 65535 // 2, np.uint16)
    sixteen[0, 0] = 65535
    Image.fromarray(sixteen).save(tmp_path / "s.png")
    s = load_image(tmp_path / "s.png")
    assert s.dtype == np.uint8 and s[0, 0, 0] == 255 and abs(int(s[5, 5, 0]) - 127) <= 1


def test_exif_rotation_is_applied(tmp_path):
    img = np.zeros((10, 20, 3), np.uint8)
    img[:, :10] = 255  # left half white
    pil = Image.fromarray(img)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 deg clockwise on display
    pil.save(tmp_path / "r.jpg", exif=exif, quality=100)
    out = load_image(tmp_path / "r.jpg")
    assert out.shape == (20, 10, 3)
    assert out[:10].mean() > 200 and out[10:].mean() < 50  # white half now on top


def test_bad_files_are_clear_errors(tmp_path):
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    good = tmp_path / "good.png"
    Image.fromarray(_rgb()).save(good)
    (tmp_path / "trunc.png").write_bytes(good.read_bytes()[:60])
    with pytest.raises(ImageError, match="empty"):
        load_image(tmp_path / "zero.png")
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "text.png")
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "trunc.png")
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError) as named:  # the file's path, never the reader's in-memory buffer
        load_image(tmp_path / "text.png")
    assert str(tmp_path / "text.png") in str(named.value) and "known format" in str(named.value)
    assert "BytesIO" not in str(named.value)


def test_a_file_is_read_once_and_its_pixels_come_from_the_bytes_given_back(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(_rgb()).save(good)
    pixels, data = read_image_file(good)
    assert data == good.read_bytes() and (pixels == _rgb()).all()
    good.write_bytes(b"")  # the file emptied since: the bytes given back still decode to the pixels judged
    assert (np.asarray(Image.open(io.BytesIO(data))) == pixels).all()
    # a file far larger than any image within the pixel limit is refused before it is read into memory
    (tmp_path / "huge.png").write_bytes(data + b"\0" * 20_000)
    with pytest.raises(ImageTooLargeError, match="MB file, over what an image within the 0.001 MP limit takes"):
        read_image_file(tmp_path / "huge.png", max_megapixels=0.001)


def test_arrays_of_any_common_layout():
    assert as_rgb8(np.zeros((5, 6), np.uint8)).shape == (5, 6, 3)
    assert as_rgb8(np.ones((5, 6, 3), np.float32))[0, 0, 0] == 255
    assert as_rgb8(np.full((5, 6, 1), 65535, np.uint16))[0, 0, 2] == 255
    with pytest.raises(ImageError, match="shape"):
        as_rgb8(np.zeros((5, 6, 2), np.uint8))


def test_folders_expand_to_images_only(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in expand_image_paths([tmp_path])] == ["a.jpg", "b.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="holds no images"):
        expand_image_paths([tmp_path / "empty"])


def test_augmentation_is_small_and_reproducible():
    img = _rgb(40, 40)
    a = augmented_copies(img, 3, flips=True, rng=np.random.default_rng(1))
    b = augmented_copies(img, 3, flips=True, rng=np.random.default_rng(1))
    assert len(a) == 5 and all((x == y).all() for x, y in zip(a, b))
    assert all(x.shape == img.shape for x in a)
    assert (a[3] == img[:, ::-1]).all()
