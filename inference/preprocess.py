"""Image loading (EXIF, 16-bit, gray, RGBA), ROI crop, resize to the canonical input, augmentation."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Iterable, Sequence, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .area_resize import area_resize
from .errors import ImageError, ImageTooLargeError
from .roi import Roi, crop_box

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
ImageInput = Union[str, os.PathLike, np.ndarray]


# The default size limit; EngineConfig.max_image_megapixels sets it per engine.
DEFAULT_MAX_MEGAPIXELS = 64.0


def load_image(path: str | os.PathLike, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """An image file as an H x W x 3 uint8 RGB array, upright per its EXIF orientation.

    The size is checked from the header, before decoding, against `max_megapixels`.
    """
    return read_image_file(path, max_megapixels)[0]


def read_image_file(path: str | os.PathLike, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
                    data: Optional[bytes] = None) -> tuple[np.ndarray, bytes]:
    """An image file's pixels (as load_image gives them) and the bytes they were decoded from, read once: the
    bytes are the image inspected, to hash and to archive, even when the file is written again meanwhile (a
    camera that writes each image under the same name). `data`: the file's bytes read already (not read again;
    messages still name `path`)."""
    path = Path(path)
    try:
        if data is None:
            if path.is_dir():
                raise ImageError(f"{path} is a folder, not an image")
            if not path.is_file():
                raise ImageError(f"image not found: {path}")
        size = len(data) if data is not None else path.stat().st_size
        if size > max_megapixels * 1e6 * 8:  # more than 16-bit RGBA, uncompressed, at the limit: never read whole
            raise ImageTooLargeError(f"image {path} is a {size / 2 ** 20:.0f} MB file, over what an image within the "
                                     f"{max_megapixels:g} MP limit takes (max_image_megapixels in config.yaml)")
        if data is None:
            data = path.read_bytes()
        if not data:
            raise ImageError(f"image file is empty (0 bytes): {path}")
        with warnings.catch_warnings():
            # Our own limit below replaces PIL's decompression-bomb warning (a multi-line message).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                _check_pixels(im.size, str(path), max_megapixels)
                im = ImageOps.exif_transpose(im)
                im.load()
                return to_rgb8(im), data
    except Image.DecompressionBombError:
        raise _bomb(str(path), max_megapixels) from None
    except PermissionError:
        raise ImageError(f"permission denied reading image {path}") from None
    except UnidentifiedImageError:
        raise ImageError(f"cannot read image {path}: not an image in a known format "
                         f"({', '.join(sorted(IMAGE_SUFFIXES))})") from None
    except (OSError, SyntaxError, ValueError, MemoryError) as exc:
        raise ImageError(f"cannot read image {path}: {' '.join(str(exc).split())}") from None


def _check_pixels(size: tuple[int, int], name: str, max_megapixels: float) -> None:
    pixels = size[0] * size[1]
    if pixels > max_megapixels * 1e6:
        raise ImageTooLargeError(
            f"image {name} is {size[0]} x {size[1]} px ({pixels / 1e6:.0f} MP), over the "
            f"{max_megapixels:g} MP limit (max_image_megapixels in config.yaml)"
        )


def _bomb(name: str, max_megapixels: float) -> ImageTooLargeError:
    # PIL refuses to open an image over twice its MAX_IMAGE_PIXELS before telling its size.
    return ImageTooLargeError(f"image {name} is over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} MP, over the "
                              f"{max_megapixels:g} MP limit (max_image_megapixels in config.yaml)")


def check_image_header(source, name: str = "image", max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
                       ) -> tuple[int, int]:
    """(width, height) read from the header of encoded image bytes or a seekable binary file, nothing decoded
    (PNG, JPEG, TIFF, BMP, WebP: PIL's open reads only the header). ImageTooLargeError over `max_megapixels`,
    ImageError for what is not an image in a known format; a file object is left at its start."""
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    fp.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fp) as im:
                size = im.size
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image in a known format ({', '.join(sorted(IMAGE_SUFFIXES))})") from None
    except Image.DecompressionBombError:
        raise _bomb(name, max_megapixels) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name} is a corrupt or truncated image ({' '.join(str(exc).split())})") from None
    finally:
        fp.seek(0)
    _check_pixels(size, name, max_megapixels)
    return size


def decode_image(data: bytes, name: str = "image", max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """Encoded image bytes (an upload) as H x W x 3 uint8 RGB, upright per EXIF; `name` is for messages.

    The size is checked from the header, before decoding, against `max_megapixels`."""
    if not data:
        raise ImageError(f"image {name} is empty (0 bytes)")
    check_image_header(data, name, max_megapixels)
    try:
        with Image.open(io.BytesIO(data)) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
            return to_rgb8(im)
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image in a known format ({', '.join(sorted(IMAGE_SUFFIXES))})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name} is a corrupt or truncated image ({exc})") from None
    except Image.DecompressionBombError:
        raise _bomb(name, max_megapixels) from None


def to_rgb8(im: Image.Image) -> np.ndarray:
    """Any PIL mode -> uint8 RGB. 16-bit and float images are scaled by their full range, not clipped."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(im, dtype=np.uint16).astype(np.float32) / 257.0
        return np.repeat(np.clip(arr + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if im.mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        top = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # Transparent pixels are shown on black, as camera images have no alpha.
        im = im.convert("RGBA")
        canvas = Image.new("RGBA", im.size, (0, 0, 0, 255))
        im = Image.alpha_composite(canvas, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def as_rgb8(image: ImageInput, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, name: Optional[str] = None) -> np.ndarray:
    """A path or an array (gray, RGB, RGBA; uint8, uint16 or float in [0, 1]) as uint8 RGB. `name`: what an
    array is called in messages (e.g. its uploaded file's name)."""
    if not isinstance(image, np.ndarray):
        return load_image(image, max_megapixels)
    arr = image
    what = name or "image array"
    if arr.ndim >= 2 and arr.shape[0] * arr.shape[1] > max_megapixels * 1e6:
        raise ImageError(f"{what} of {arr.shape[1]} x {arr.shape[0]} px is over the {max_megapixels:g} MP limit")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ImageError(f"{what} must be H x W, H x W x 3 or H x W x 4, got shape {image.shape}")
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif arr.dtype.kind == "f":
        arr = (np.clip(np.nan_to_num(arr), 0, 1) * 255 + 0.5).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ImageError(f"{what} dtype must be uint8, uint16 or float, got {arr.dtype}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[..., 3:4].astype(np.float32) / 255.0
        arr = (arr[..., :3].astype(np.float32) * alpha + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr)


def image_name(image: ImageInput, index: int) -> str:
    return str(image) if not isinstance(image, np.ndarray) else f"<array {index}>"


def images_in_folder(folder: Path) -> list[Path]:
    """The image files directly in `folder` (by suffix), sorted by name."""
    return sorted(f for f in Path(folder).iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)


def expand_image_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders expanded to their image files (sorted, not recursive)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = images_in_folder(p)
            if not found:
                raise ImageError(f"folder {p} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise ImageError(f"image or folder not found: {p}")
    return out


@dataclass(frozen=True)
class RoiCrop:
    """The ROI's bounding box cut from an image, and that box in image pixels."""

    pixels: np.ndarray  # h x w x 3 uint8
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (end-exclusive)


def crop_roi(image: np.ndarray, roi: Roi, name: str = "image") -> RoiCrop:
    height, width = image.shape[:2]
    try:
        box = crop_box(roi, width, height)
    except Exception as exc:
        # Most often the image is not from the camera setup the ROI was drawn on (another size or framing).
        raise ImageError(f"{name} is {width} x {height} px and the region of interest does not fit in it ({exc}): "
                         "use images from the same camera setup as the taught ones, or redraw the ROI") from None
    x0, y0, x1, y1 = box
    return RoiCrop(np.ascontiguousarray(image[y0:y1, x0:x1]), box)


def resize_square(pixels: np.ndarray, size: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """The crop at the network's size x size: area-averaged where it shrinks (INTER_AREA, both sides no smaller
    than `size`: in bands on the idle cores, the same bytes), else bilinear. Into `out` when given."""
    h, w = pixels.shape[:2]
    if h >= size and w >= size and (h > size or w > size):
        return area_resize(pixels, size, out)
    interp = cv2.INTER_AREA if (h > size or w > size) else cv2.INTER_LINEAR
    resized = cv2.resize(pixels, (size, size), interpolation=interp)
    if out is None:
        return resized
    out[...] = resized
    return out


def augmented_copies(pixels: np.ndarray, copies: int, flips: bool, rng: np.random.Generator) -> list[np.ndarray]:
    """Copies of an OK crop under small rotations (+-5 deg) and light brightness/contrast jitter.

    Rotations turn about the crop centre and fill with the reflected border, so
    no artificial black corners enter the memory bank.
    """
    h, w = pixels.shape[:2]
    out: list[np.ndarray] = []
    for _ in range(copies):
        angle = float(rng.uniform(-5.0, 5.0))
        m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
        rotated = cv2.warpAffine(pixels, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        gain = float(rng.uniform(0.9, 1.1))
        bias = float(rng.uniform(-10.0, 10.0))
        out.append(np.clip(rotated.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8))
    if flips:
        out.extend([np.ascontiguousarray(pixels[:, ::-1]), np.ascontiguousarray(pixels[::-1, :])])
    return out


def stack_inputs(crops: Sequence[np.ndarray], size: int) -> np.ndarray:
    """N x size x size x C uint8: each crop resized straight into its place in the batch."""
    if not len(crops):
        return np.empty((0, size, size, 3), np.uint8)
    batch = np.empty((len(crops), size, size) + crops[0].shape[2:], crops[0].dtype)
    for crop, place in zip(crops, batch):
        resize_square(crop, size, place)
    return batch


def image_digest(image: ImageInput) -> str:
    """sha256 of an image file's bytes, or of an array's pixels: how taught images are recorded."""
    if isinstance(image, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
    from .weights import sha256_file

    return sha256_file(image)
