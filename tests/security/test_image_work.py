"""Review finding 9: image work is bounded per photo (pixels decoded) and per user (uploads per minute)."""
from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from inspections.accounts.enums import Role
from inspections.photos.imaging import ImageRejected, process
from tests.api.test_photos import declare
from tests.factories import make_user, make_world, token_for
from tests.inspections.photos.images import photo

API = "/api/v1"


def _png(w, h, mode="RGBA") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), (10, 20, 30, 255) if mode == "RGBA" else 0).save(buf, "PNG")
    return buf.getvalue()


def test_the_reviews_png_is_refused_from_its_header():
    data = _png(7745, 7745)  # 250 KB, 60 MP of RGBA: 240 MB decoded; it took 9.3 s and 824 MiB
    assert len(data) < 300_000
    t = time.perf_counter()
    with pytest.raises(ImageRejected, match="too large for PNG"):
        process(data, declared_type="image/png")
    assert time.perf_counter() - t < 0.5


def test_full_decode_cap_is_configurable_and_jpeg_keeps_the_higher_cap():
    data = _png(300, 200)
    with pytest.raises(ImageRejected, match="exceeds 59999"):
        process(data, declared_type="image/png", max_full_decode_pixels=59_999)
    assert process(data, declared_type="image/png", max_full_decode_pixels=60_000).width == 300
    # A JPEG over the full-decode cap is still processed: it is decoded reduced (draft mode).
    jpeg = photo(400, 300)
    assert process(jpeg, declared_type="image/jpeg", max_full_decode_pixels=10_000).width == 400


@pytest.fixture
def world(session):
    return make_world(session)


def test_uploads_are_rate_limited_per_user(app, client, session, world):
    insp = token_for(session, world.inspector_a1)
    other = token_for(session, make_user(session, Role.inspector, jurisdiction=world.county_a1))
    v = client.post(f"{API}/visits", json={"school_id": str(world.school_a1.id)}, headers=insp).json
    old = app.config["UPLOAD_RATE_LIMIT"]
    app.config["UPLOAD_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [declare(client, insp, v["id"], photo(40 + i, 30)).status_code for i in range(3)]
        assert codes == [201, 201, 201]
        r = declare(client, insp, v["id"], photo(90, 30))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.content_type == "application/problem+json" and "uploads" in r.json["detail"]
        # Chunks and one-request uploads count against the same budget.
        up = client.patch(f"{API}/photos/uploads/{'0' * 8}-0000-0000-0000-{'0' * 12}", data=b"x",
                          headers={**insp, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert up.status_code == 429
        # Another user has a budget of its own; reads are not counted.
        assert declare(client, other, v["id"], photo(91, 30)).status_code == 403  # not on the visit: not a 429
        assert client.get(f"{API}/visits/{v['id']}/photos", headers=insp).status_code == 200
    finally:
        app.config["UPLOAD_RATE_LIMIT"] = old
