"""Files a county attaches to its self-report as evidence (a pay table, a survey's minutes, a decree).

Not the photo service: that one verifies and re-encodes images and checks where and when they were
taken; evidence here is mostly PDF, Word and Excel. The same habits are kept: the type is decided from
the bytes (never from the name or the sender's header), bytes live in blob storage under their
SHA-256, the file is always served as a download, and it is seen through its county's scope.
"""
from __future__ import annotations

import hashlib
import os
import re
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from inspections.errors import ValidationFailed
from inspections.org.models import Jurisdiction
from inspections.scoring.county import document_ids
from inspections.scoring.models import CountyDocument

OOXML = {".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}
OLE = {".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint"}
ACCEPTED = "PDF, JPEG, PNG, Word, Excel or PowerPoint"


def sniff(data: bytes, filename: str) -> str | None:
    """The content type the bytes show (the name only tells Word from Excel inside a zip or OLE file)."""
    ext = os.path.splitext(filename.lower())[1]
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"PK\x03\x04") and ext in OOXML and b"[Content_Types].xml" in data[:4096]:
        return OOXML[ext]
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") and ext in OLE:
        return OLE[ext]
    return None


# Each accepted type's file name extensions (the first is given to a name that has none of them).
EXTENSIONS = {"application/pdf": (".pdf",), "image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",),
              **{kind: (ext,) for ext, kind in (OOXML | OLE).items()}}


def named_as(filename: str, kind: str) -> str:
    """The name with an extension of the type the bytes are (`sniff`): "minutes.pdf" stays, "report.html" of
    a PDF becomes "report.pdf". A download is saved under this name, so its extension never makes a
    document of ours open as a page or a program."""
    stem, ext = os.path.splitext(filename)
    exts = EXTENSIONS.get(kind)
    if not exts or ext.lower() in exts:
        return filename
    return (stem or "document") + exts[0]


def clean_name(filename: str) -> str:
    """The file's own name, without folders or control characters, at most 200 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "document"


def storage_key(county_id, sha256: str) -> str:
    return f"county-documents/{county_id}/{sha256}"


def add(session: Session, store, county: Jurisdiction, year: int, *, filename: str, data: bytes,
        max_bytes: int, uploaded_by_id: uuid.UUID | None) -> CountyDocument:
    """Keep one evidence file for a county's self-report of a year; ValidationFailed (nothing kept) when it is
    empty, too large or not a document type we accept."""
    if not 2000 <= year <= 2100:
        raise ValidationFailed("Invalid document", {"year": ["must be from 2000 to 2100"]})
    if not data:
        raise ValidationFailed("Invalid document", {"file": ["is empty"]})
    if len(data) > max_bytes:
        raise ValidationFailed("Invalid document", {"file": [f"is larger than {max_bytes} bytes"]})
    name = clean_name(filename)
    kind = sniff(data, name)
    if kind is None:
        raise ValidationFailed("Invalid document", {"file": [f"must be a {ACCEPTED} file"]})
    name = named_as(name, kind)[:200]
    sha = hashlib.sha256(data).hexdigest()
    key = storage_key(county.id, sha)
    if not store.exists(key):
        store.put(key, data, content_type=kind)
    row = CountyDocument(id=uuid.uuid4(), jurisdiction_id=county.id, year=year, filename=name, content_type=kind,
                         size=len(data), sha256=sha, storage_key=key, uploaded_by_id=uploaded_by_id)
    session.add(row)
    session.flush()
    return row


def list_for(session: Session, county_id: uuid.UUID, year: int) -> list[CountyDocument]:
    return list(session.scalars(select(CountyDocument).where(CountyDocument.jurisdiction_id == county_id,
                                                             CountyDocument.year == year)
                                .order_by(CountyDocument.created_at)))


def unknown_citations(session: Session, county_id: uuid.UUID, year: int, documents: list) -> dict[str, list[str]]:
    """Field errors for self-report documents citing a file that is not this county's for this year."""
    cited = document_ids({"documents": documents})
    if not cited:
        return {}
    have = {str(i) for i in session.scalars(select(CountyDocument.id).where(
        CountyDocument.jurisdiction_id == county_id, CountyDocument.year == year,
        CountyDocument.id.in_([uuid.UUID(c) for c in cited])))}
    return {f"documents[{i}].document_id": ["is not a file uploaded for this county's self-report of this year"]
            for i, d in enumerate(documents) if isinstance(d, dict) and "document_id" in d
            and str(uuid.UUID(d["document_id"])) not in have}
