"""Verification, orientation, evidence metadata and derivatives, on real images made here."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from PIL import Image

from inspections.photos import imaging
from inspections.photos.imaging import ImageRejected, process
from tests.inspections.photos.images import RED, STORE_AS, encode, marked, noisy_jpeg, photo


def _img(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _near(px, colour, tol=60):
    return all(abs(a - b) <= tol for a, b in zip(px, colour))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied(orientation):
    true = marked(160, 80)
    stored = true.transpose(STORE_AS[orientation]) if STORE_AS[orientation] is not None else true
    out = process(encode(stored, orientation=orientation), declared_type="image/jpeg")
    assert out.orientation == orientation
    assert (out.width, out.height) == (160, 80)
    display = _img(out.display)
    assert display.size == (160, 80)
    assert _near(display.getpixel((10, 10)), RED), "red must end up top-left whatever the stored rotation"
    assert not _near(display.getpixel((150, 70)), RED)
    assert not _near(display.getpixel((150, 10)), RED)  # a flip would put red top-right


@pytest.mark.parametrize("fmt,ctype", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_formats_accepted(fmt, ctype):
    out = process(photo(400, 300, fmt), declared_type=ctype)
    assert out.format == fmt and out.content_type == ctype
    assert _img(out.display).format == "JPEG" and _img(out.display).size == (400, 300)
    assert _img(out.thumbnail).size == (320, 240)


def test_png_with_alpha_becomes_white_not_black():
    im = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    out = process(buf.getvalue(), declared_type="image/png")
    assert _near(_img(out.display).getpixel((25, 25)), (255, 255, 255), 5)


def test_large_jpeg_derivative_sizes_and_draft():
    data = noisy_jpeg(4000, 3000)
    out = process(data, declared_type="image/jpeg")
    assert (out.width, out.height) == (4000, 3000)
    assert out.display_size == (1600, 1200) and _img(out.display).size == (1600, 1200)
    assert out.thumbnail_size == (320, 240)


def test_portrait_phone_photo_dimensions_after_rotation():
    out = process(encode(noisy_jpeg_image(), orientation=6), declared_type="image/jpeg")
    assert (out.width, out.height) == (1500, 2000)
    assert _img(out.display).size == (1200, 1600)


def noisy_jpeg_image():
    return _img(noisy_jpeg(2000, 1500))


def test_small_image_is_not_upscaled():
    out = process(photo(40, 30), declared_type="image/jpeg")
    assert _img(out.display).size == (40, 30) and _img(out.thumbnail).size == (40, 30)


def test_exif_evidence_extracted_and_stripped_from_derivatives():
    data = photo(300, 200, when=datetime(2026, 5, 4, 10, 30, 0), offset="+08:00", gps=(26.123456, 107.654321),
                 model="Phone X")
    out = process(data, declared_type="image/jpeg")
    assert out.captured_at == datetime(2026, 5, 4, 2, 30, tzinfo=timezone.utc)
    assert out.captured_local == "2026-05-04T10:30:00"
    assert abs(out.latitude - Decimal("26.123456")) < Decimal("0.00001")
    assert abs(out.longitude - Decimal("107.654321")) < Decimal("0.00001")
    assert out.camera_make == "Acme" and out.camera_model == "Phone X"
    for derivative in (out.display, out.thumbnail):
        im = _img(derivative)
        assert len(im.getexif()) == 0 and "exif" not in im.info
        assert b"Phone X" not in derivative
    ev = out.evidence()
    assert ev["captured_at"] == "2026-05-04T02:30:00+00:00" and ev["camera_model"] == "Phone X"


def test_capture_time_without_offset_stays_local():
    out = process(photo(when=datetime(2026, 5, 4, 10, 30, 0)), declared_type="image/jpeg")
    assert out.captured_at is None and out.captured_local == "2026-05-04T10:30:00"


def test_southern_western_gps_is_negative():
    out = process(photo(gps=(-33.5, -70.25)), declared_type="image/jpeg")
    assert out.latitude == Decimal("-33.500000") and out.longitude == Decimal("-70.250000")


def test_no_exif_means_no_evidence_fields():
    out = process(photo(), declared_type="image/jpeg")
    assert (out.captured_at, out.captured_local, out.latitude, out.camera_model) == (None, None, None, None)


@pytest.mark.parametrize("data,reason", [
    (b"%PDF-1.4 this is not a photo" * 10, "not an image"),
    (b"", "not an image"),
    (b"GIF89a" + bytes(100), "not an image"),  # a broken header
])
def test_non_images_rejected(data, reason):
    with pytest.raises(ImageRejected, match=reason):
        process(data, declared_type="image/jpeg")


def test_gif_rejected_as_unsupported():
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "GIF")
    with pytest.raises(ImageRejected, match="unsupported image format GIF"):
        process(buf.getvalue(), declared_type="image/gif")


@pytest.mark.parametrize("fmt,declared", [("PNG", "image/jpeg"), ("JPEG", "image/png"), ("WEBP", "image/jpeg")])
def test_content_type_must_match_bytes(fmt, declared):
    with pytest.raises(ImageRejected, match=f"declared content type {declared} but the file is {fmt}"):
        process(photo(fmt=fmt), declared_type=declared)


def test_a_truncated_photo_is_refused_after_the_report_renderer_is_loaded():
    """The yearly report's PDF library flips a process-wide Pillow flag on import that lets truncated
    images load; a worker that made a report must still refuse a truncated photo."""
    from inspections.reports import render
    render._weasyprint()
    data = noisy_jpeg(800, 600)
    with pytest.raises(ImageRejected, match="truncated or corrupt"):
        process(data[: len(data) // 2], declared_type="image/jpeg")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_files_rejected(fmt):
    data = noisy_jpeg(800, 600) if fmt == "JPEG" else photo(800, 600, fmt)
    if fmt != "JPEG":
        im = _img(noisy_jpeg(800, 600))
        buf = io.BytesIO()
        im.save(buf, fmt)
        data = buf.getvalue()
    with pytest.raises(ImageRejected, match="truncated or corrupt|unreadable|not an image"):
        process(data[: len(data) // 2], declared_type=imaging.FORMAT_TYPES[fmt][0])


def test_decompression_bomb_rejected_before_decoding():
    # A 20000 x 20000 PNG of zeros is a few hundred KB but 400 MP (1.2 GB) decoded.
    im = Image.new("1", (20000, 20000))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    assert len(buf.getvalue()) < 2_000_000
    with pytest.raises(ImageRejected, match="decompression bomb"):
        process(buf.getvalue(), declared_type="image/png", max_pixels=50_000_000)


def test_pixel_limit_is_the_configured_one():
    data = photo(200, 100)
    with pytest.raises(ImageRejected, match="exceeds the limit of 19999"):
        process(data, declared_type="image/jpeg", max_pixels=19_999)
    assert process(data, declared_type="image/jpeg", max_pixels=20_000).width == 200


@pytest.mark.skipif(not imaging.HEIF, reason="pillow-heif not installed")
def test_heic_accepted():
    buf = io.BytesIO()
    try:
        marked(64, 32).save(buf, "HEIF")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no HEIF encoder here: {exc}")
    out = process(buf.getvalue(), declared_type="image/heic")
    assert out.format == "HEIF" and _img(out.display).size == (64, 32)
