"""Real images made with Pillow for the photo tests."""
from __future__ import annotations

import io
from datetime import datetime

from PIL import Image

# The transpose that undoes each EXIF orientation's display transform (stored = true image through it).
STORE_AS = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
            7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}
RED, BLUE = (230, 20, 20), (20, 20, 230)


def marked(width=160, height=80) -> Image.Image:
    """Landscape image: red top-left quadrant, blue everywhere else (shows any rotation or flip)."""
    im = Image.new("RGB", (width, height), BLUE)
    im.paste(RED, (0, 0, width // 2, height // 2))
    return im


def encode(im: Image.Image, fmt="JPEG", *, orientation=None, when: datetime | None = None, offset: str | None = None,
           gps: tuple[float, float] | None = None, model: str | None = None, quality=92) -> bytes:
    """Encode with an EXIF block built from the arguments."""
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if model:
        exif[0x010F], exif[0x0110] = "Acme", model
    if when:
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
        if offset:
            sub[0x9011] = offset
    if gps:
        lat, lon = gps
        g = exif.get_ifd(0x8825)

        def dms(v):
            v = abs(v)
            d = int(v)
            m = int((v - d) * 60)
            s = round(((v - d) * 60 - m) * 60, 4)
            return (float(d), float(m), float(s))
        g[1], g[2], g[3], g[4] = ("N" if lat >= 0 else "S"), dms(lat), ("E" if lon >= 0 else "W"), dms(lon)
    out = io.BytesIO()
    kw = {"exif": exif.tobytes()} if len(exif) or exif.get_ifd(0x8769) or exif.get_ifd(0x8825) else {}
    if fmt == "JPEG":
        kw["quality"] = quality
    im.save(out, fmt, **kw)
    return out.getvalue()


def photo(width=160, height=80, fmt="JPEG", **kw) -> bytes:
    return encode(marked(width, height), fmt, **kw)


def noisy_jpeg(width, height, *, seed=1, quality=90) -> bytes:
    """A JPEG with real detail (like a camera photo), so sizes and decode times are realistic."""
    import random
    rnd = random.Random(seed)
    small = Image.frombytes("RGB", (width // 16, height // 16), rnd.randbytes((width // 16) * (height // 16) * 3))
    im = small.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()
