"""Photo states."""
from enum import StrEnum


class PhotoStatus(StrEnum):
    uploading = "uploading"  # declared by the device; chunks arriving
    received = "received"  # every byte arrived and matched the declared sha256; awaiting processing
    processed = "processed"  # verified image, derivatives written: counts as evidence
    rejected = "rejected"  # not an acceptable image; the bytes were not kept
    expired = "expired"  # abandoned partial upload, cleaned up
