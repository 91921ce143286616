"""Pure image functions, bytes in and bytes out: verification, EXIF evidence, derivatives.

Nothing here touches storage or the database, so every rule is testable with images made in memory.
"""
from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from PIL import Image, UnidentifiedImageError

try:  # HEIC/HEIF from iPhones; optional so a missing wheel never breaks JPEG/PNG/WebP.
    import pillow_heif
    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - depends on the platform's wheels
    HEIF = False

DISPLAY_PX = 1600
THUMB_PX = 320
DEFAULT_MAX_PIXELS = 60_000_000
# Formats decoded at full size (PNG, WebP, HEIF: no draft mode) get a lower cap. A 60 MP RGBA PNG of
# 250 KB decodes to 240 MB and took ~500 MiB more and 2-9 s; 24 MP is every phone's normal output.
DEFAULT_MAX_FULL_DECODE_PIXELS = 24_000_000

# Pillow format name -> the content types a client may declare for it.
FORMAT_TYPES = {
    "JPEG": ("image/jpeg", "image/jpg", "image/pjpeg"),
    "PNG": ("image/png",),
    "WEBP": ("image/webp",),
    "HEIF": ("image/heic", "image/heif"),
}
ACCEPTED_TYPES = tuple(t for types in FORMAT_TYPES.values() for t in types)

# EXIF tags (numbers from the EXIF 2.32 specification).
ORIENTATION, MAKE, MODEL, DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL, OFFSET_TIME = 0x9003, 0x9011, 0x9010


class ImageRejected(Exception):
    """The bytes are not an acceptable photo; `reason` says why in words an office can read."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Processed:
    """What processing learned from one photo, plus its two EXIF-free derivatives."""

    format: str
    content_type: str
    width: int  # after EXIF orientation
    height: int
    display: bytes
    thumbnail: bytes
    orientation: int = 1
    captured_at: datetime | None = None  # UTC when the camera recorded its offset
    captured_local: str | None = None  # the camera's wall-clock time when it did not
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    display_size: tuple[int, int] = (0, 0)
    thumbnail_size: tuple[int, int] = (0, 0)
    metadata: dict = field(default_factory=dict)

    def evidence(self) -> dict:
        """The JSON-ready metadata kept with the photo."""
        return {
            "format": self.format, "width": self.width, "height": self.height, "orientation": self.orientation,
            "captured_at": self.captured_at.isoformat() if self.captured_at else None,
            "captured_local": self.captured_local,
            "latitude": str(self.latitude) if self.latitude is not None else None,
            "longitude": str(self.longitude) if self.longitude is not None else None,
            "camera_make": self.camera_make, "camera_model": self.camera_model,
        }


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Our own pixel limit is checked explicitly below; Pillow's global one must not decide alone.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected("not an image (no known image format could read the file)") from None
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"decompression bomb: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a malformed header raises many kinds of errors
        raise ImageRejected(f"unreadable image header: {exc}") from None


def sniff(data: bytes) -> str | None:
    """The Pillow format of some bytes, or None when they are not an image we know."""
    try:
        return _open(data).format
    except ImageRejected:
        return None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value).strip("\x00 ").strip()
    return value[:120] or None


def _parse_offset(value: str | None) -> timezone | None:
    value = _text(value)
    if not value or len(value) != 6 or value[0] not in "+-" or value[3] != ":":
        return None
    try:
        hours, minutes = int(value[1:3]), int(value[4:6])
    except ValueError:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if value[0] == "-" else delta)


def _capture_time(exif: Image.Exif) -> tuple[datetime | None, str | None]:
    """(UTC time when the offset is known, else None; the camera's local time string)."""
    sub = exif.get_ifd(EXIF_IFD)
    raw = _text(sub.get(DATETIME_ORIGINAL)) or _text(exif.get(DATETIME))
    if not raw:
        return None, None
    try:
        local = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None, None
    tz = _parse_offset(sub.get(OFFSET_TIME_ORIGINAL) or sub.get(OFFSET_TIME))
    if tz is None:
        # A phone's wall clock without an offset: kept as written, never guessed into UTC.
        return None, local.isoformat()
    return local.replace(tzinfo=tz).astimezone(timezone.utc), local.isoformat()


def _degrees(dms, ref) -> Decimal | None:
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if not math.isfinite(value):
        return None
    if _text(ref) in ("S", "W"):
        value = -value
    return Decimal(f"{value:.6f}")


def _gps(exif: Image.Exif) -> tuple[Decimal | None, Decimal | None]:
    gps = exif.get_ifd(GPS_IFD)
    if not gps or 2 not in gps or 4 not in gps:
        return None, None
    lat, lon = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None, None
    return lat, lon


def _jpeg(im: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # No exif=/icc_profile= arguments: the derivative carries no metadata (GPS, serial numbers).
    im.save(out, "JPEG", quality=quality, optimize=False, progressive=False)
    return out.getvalue()


def _flatten(im: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent areas become white rather than black."""
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return im.convert("RGB") if im.mode != "RGB" else im


# What ImageOps.exif_transpose does for each orientation, applied to an already shrunk image.
_TRANSPOSE = {2: (Image.Transpose.FLIP_LEFT_RIGHT,), 3: (Image.Transpose.ROTATE_180,),
              4: (Image.Transpose.FLIP_TOP_BOTTOM,), 5: (Image.Transpose.TRANSPOSE,),
              6: (Image.Transpose.ROTATE_270,), 7: (Image.Transpose.TRANSVERSE,), 8: (Image.Transpose.ROTATE_90,)}


def _transpose(im: Image.Image, orientation: int) -> Image.Image:
    for method in _TRANSPOSE.get(orientation, ()):
        im = im.transpose(method)
    return im


def _fit(im: Image.Image, box: int) -> Image.Image:
    """A copy no larger than box x box, aspect kept, never enlarged."""
    w, h = im.size
    scale = min(1.0, box / max(w, h))
    if scale == 1.0:
        return im.copy()
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Integer box reduction first (cheap, exact averaging), then an area-averaging (box) filter for the
    # last < 2x step: for downscaling by at most 2 it is as sharp as bilinear and a third cheaper.
    # reducing_gap=1: the whole integer factor goes to reduce() (a box average itself, so nothing is lost;
    # 1600 -> 320 px is one exact 5 x 5 average, half the time of reduce(2) + resize).
    return im.resize(size, Image.Resampling.BOX, reducing_gap=1.0)


def process(data: bytes, *, declared_type: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
            max_full_decode_pixels: int = DEFAULT_MAX_FULL_DECODE_PIXELS,
            display_px: int = DISPLAY_PX, thumb_px: int = THUMB_PX, quality: int = 82) -> Processed:
    """Verify a photo and build its display image and thumbnail; raises ImageRejected with the reason.

    EXIF orientation is applied (as ImageOps.exif_transpose would) to the derivatives only. Memory is
    bounded by the header's size before decoding: JPEG up to `max_pixels` (decoded reduced, at 1/2-1/8
    scale), other formats (decoded whole) up to `max_full_decode_pixels`.
    """
    im = _open(data)
    fmt = im.format or "?"
    if fmt not in FORMAT_TYPES:
        raise ImageRejected(f"unsupported image format {fmt}; send JPEG, PNG, WebP or HEIC")
    if declared_type is not None and declared_type.lower() not in FORMAT_TYPES[fmt]:
        raise ImageRejected(f"declared content type {declared_type} but the file is {fmt}")
    w, h = im.size
    if w < 1 or h < 1:
        raise ImageRejected("image has no pixels")
    if w * h > max_pixels:
        # Checked from the header, before any pixel is decoded.
        raise ImageRejected(f"decompression bomb: {w}x{h} = {w * h} pixels exceeds the limit of {max_pixels}")
    if fmt != "JPEG" and w * h > max_full_decode_pixels:
        # No reduced decoding for these formats: every pixel would be held at full size, often with alpha.
        raise ImageRejected(f"too large for {fmt}: {w}x{h} = {w * h} pixels exceeds {max_full_decode_pixels} "
                            "(send a JPEG, or a smaller image)")
    try:
        exif = im.getexif()
    except Exception:  # noqa: BLE001 - a broken EXIF block is not a broken photo
        exif = Image.Exif()
    orientation = exif.get(ORIENTATION, 1)
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    captured_at, captured_local = _capture_time(exif)
    lat, lon = _gps(exif)

    if fmt == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the display size:
        # far less memory and time for 12-50 MP originals, and every byte is still read (truncation shows).
        scale = min(1.0, display_px / max(w, h))
        im.draft("RGB", (max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))))
    try:
        im.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"truncated or corrupt image data: {exc}") from None
    if fmt == "PNG":
        # PNG checksums are only checked by verify(); it needs a fresh image object.
        try:
            _open(data).verify()
        except ImageRejected:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ImageRejected(f"truncated or corrupt image data: {exc}") from None

    # Real dimensions after orientation (the draft may have shrunk the decoded pixels).
    width, height = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    im = _flatten(im)
    # Shrink first, rotate after: the square bounding box makes the order irrelevant to the result,
    # and turning 2 MP instead of 12 MP is several times cheaper.
    display = _fit(im, display_px)
    if orientation != 1:
        display = _transpose(display, orientation)
    thumb = _fit(display, thumb_px)
    return Processed(
        format=fmt, content_type=FORMAT_TYPES[fmt][0], width=width, height=height,
        display=_jpeg(display, quality), thumbnail=_jpeg(thumb, quality), orientation=orientation,
        captured_at=captured_at, captured_local=captured_local, latitude=lat, longitude=lon,
        camera_make=_text(exif.get(MAKE)), camera_model=_text(exif.get(MODEL)),
        display_size=display.size, thumbnail_size=thumb.size)
