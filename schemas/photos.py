"""Photo uploads and evidence (the mobile contract)."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from inspections.photos.enums import PhotoStatus
from inspections.photos.imaging import ACCEPTED_TYPES
from schemas.common import DecimalText, WholeNumber, times


def _between(lo: int, hi: int):
    # A plain function, not validate.Range: apispec would render Decimal bounds as strings.
    def check(v):
        if v is not None and not lo <= v <= hi:
            raise ValidationError(f"must be between {lo} and {hi}")
    return check


ITEM = validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$", error="an item code")
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="64 lowercase hex digits (SHA-256 of the whole file)")


class UploadIn(Schema):
    id = fields.UUID(load_default=None, metadata={"description": "Client-generated id: a retried create returns the same upload."})
    sha256 = fields.String(required=True, validate=SHA256)
    # text=True: the one-request upload declares it in tus Upload-Metadata, where every value is text.
    size = WholeNumber(text=True, required=True, validate=validate.Range(min=1),
                       metadata={"description": "Bytes in the whole file."})
    content_type = fields.String(required=True, validate=validate.OneOf(ACCEPTED_TYPES))
    response_id = fields.UUID(load_default=None)
    visit_id = fields.UUID(load_default=None, metadata={"description": "With item_code: evidence for an item not yet answered."})
    item_code = fields.String(load_default=None, validate=ITEM)
    finding_id = fields.UUID(load_default=None)
    ticket_event_id = fields.UUID(load_default=None)
    ticket_id = fields.UUID(load_default=None, metadata={
        "description": "Evidence for a ticket's next step (a school proving its rectification)."})
    captured_at = fields.AwareDateTime(load_default=None, validate=times,
                                      metadata={"description": "When the device took it."})
    latitude = DecimalText(load_default=None, places=6, validate=_between(-90, 90))
    longitude = DecimalText(load_default=None, places=6, validate=_between(-180, 180))
    device_id = fields.UUID(load_default=None, metadata={"description": "Defaults to the token's device."})

    @validates_schema
    def _one_target(self, data, **kwargs):
        targets = [k for k in ("response_id", "visit_id", "finding_id", "ticket_event_id", "ticket_id") if data.get(k)]
        if len(targets) != 1:
            raise ValidationError("exactly one of response_id, visit_id, finding_id, ticket_event_id, ticket_id",
                                  "_schema")
        if data.get("item_code") and not data.get("visit_id"):
            raise ValidationError("only with visit_id (other targets know their item)", "item_code")
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("give latitude and longitude together", "latitude")


class UploadOut(Schema):
    id = fields.UUID()
    status = fields.String(metadata={"enum": [s.value for s in PhotoStatus]})
    offset = WholeNumber(attribute="received_bytes", metadata={"description": "Bytes received so far: send the next chunk from here."})
    size = WholeNumber()
    sha256 = fields.String()
    expires_at = fields.AwareDateTime(allow_none=True)
    max_chunk_bytes = WholeNumber()
    chunk_url = fields.String()


class PhotoOut(Schema):
    id = fields.UUID()
    status = fields.String(metadata={"enum": [s.value for s in PhotoStatus]})
    status_reason = fields.String(allow_none=True)
    sha256 = fields.String()
    size = WholeNumber()
    content_type = fields.String()
    visit_id = fields.UUID(allow_none=True)
    response_id = fields.UUID(allow_none=True)
    finding_id = fields.UUID(allow_none=True)
    ticket_event_id = fields.UUID(allow_none=True)
    ticket_id = fields.UUID(allow_none=True)
    school_id = fields.UUID(allow_none=True)
    item_code = fields.String(allow_none=True)
    uploaded_by_id = fields.UUID(allow_none=True)
    device_id = fields.UUID(allow_none=True)
    captured_at = fields.AwareDateTime(allow_none=True, metadata={"description": "As declared by the device."})
    latitude = fields.Decimal(allow_none=True, as_string=True)
    longitude = fields.Decimal(allow_none=True, as_string=True)
    received_at = fields.AwareDateTime(metadata={"description": "When the server had every byte."})
    processed_at = fields.AwareDateTime(allow_none=True)
    flagged = fields.Boolean()
    evidence = fields.Dict(metadata={"description": (
        "EXIF facts (time, GPS, camera), flags and derivative sizes. Flags are facts with a `code`: "
        "before_start (before the business day of the visit's earliest evidence) or after_end (after its "
        "submission), each with `hours`, `taken` and `source` (exif | device); far_from_school with `km` and "
        "`source`; reused with `visits` (how many other visits hold the same file; never which).")})


class RequiredItemOut(Schema):
    item_code = fields.String()
    processed = WholeNumber()
    pending = WholeNumber()
    rejected = WholeNumber()


class MissingOut(Schema):
    item_code = fields.String(allow_none=True)
    photo_id = fields.UUID(allow_none=True)
    reason = fields.String()


class EvidenceOut(Schema):
    visit_id = fields.UUID()
    complete = fields.Boolean(metadata={"description": "Every required item has a processed photo and no declared photo is outstanding."})
    required_items = fields.List(fields.Nested(RequiredItemOut))
    missing = fields.List(fields.Nested(MissingOut))
    photos = WholeNumber()
    flagged = fields.List(fields.UUID())
