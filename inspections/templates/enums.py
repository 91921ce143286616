"""Template version states."""
from enum import StrEnum


class VersionStatus(StrEnum):
    draft = "draft"
    published = "published"
    retired = "retired"
