"""Jurisdictions and schools."""
from marshmallow import Schema, ValidationError, fields, validate

from inspections.org.enums import JurisdictionLevel, Locale, SchoolKind, SchoolType
from schemas.common import DecimalText, WholeNumber

CODE = validate.Regexp(r"^[A-Za-z0-9_.-]{1,32}$", error="letters, digits, '.', '_' or '-', at most 32")


class JurisdictionOut(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    level = fields.Enum(JurisdictionLevel)
    parent_id = fields.UUID(allow_none=True)
    version = WholeNumber()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class JurisdictionIn(Schema):
    id = fields.UUID(load_default=None)
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    level = fields.Enum(JurisdictionLevel, required=True)
    parent_id = fields.UUID(load_default=None)


class JurisdictionPatch(Schema):
    code = fields.String(validate=CODE)
    name = fields.String(validate=validate.Length(min=1, max=200))


class JurisdictionQuery(Schema):
    parent_id = fields.UUID(load_default=None)
    level = fields.Enum(JurisdictionLevel, load_default=None)


ENROLMENT = validate.Range(min=0, max=100000)
def _between(lo: int, hi: int):
    def check(v):
        if v is not None and not lo <= v <= hi:
            raise ValidationError(f"must be between {lo} and {hi}")
    return check


# Plain functions (not validate.Range): apispec would render Decimal bounds as strings.
LAT, LON = _between(-90, 90), _between(-180, 180)


class SchoolOut(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    jurisdiction_id = fields.UUID()
    kind = fields.Enum(SchoolKind)
    locale = fields.Enum(Locale)
    school_type = fields.Enum(SchoolType)
    enrolment_primary = WholeNumber()
    enrolment_junior = WholeNumber()
    address = fields.String(allow_none=True)
    latitude = fields.Decimal(allow_none=True, as_string=True)
    longitude = fields.Decimal(allow_none=True, as_string=True)
    active = fields.Boolean()
    version = WholeNumber()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class SchoolIn(Schema):
    id = fields.UUID(load_default=None)
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    jurisdiction_id = fields.UUID(required=True, metadata={"description": "The county the school belongs to."})
    kind = fields.Enum(SchoolKind, required=True)
    locale = fields.Enum(Locale, required=True)
    school_type = fields.Enum(SchoolType, load_default=SchoolType.ordinary, metadata={"description": "ordinary, teaching_point (教学点) or special_education: teaching points under 50 pupils and special-education schools are not judged on R1-R7 or the CV."})
    enrolment_primary = WholeNumber(load_default=0, validate=ENROLMENT)
    enrolment_junior = WholeNumber(load_default=0, validate=ENROLMENT)
    address = fields.String(load_default=None, validate=validate.Length(max=300))
    latitude = DecimalText(load_default=None, validate=LAT, places=6)
    longitude = DecimalText(load_default=None, validate=LON, places=6)


class SchoolPatch(Schema):
    code = fields.String(validate=CODE)
    name = fields.String(validate=validate.Length(min=1, max=200))
    jurisdiction_id = fields.UUID()
    kind = fields.Enum(SchoolKind)
    locale = fields.Enum(Locale)
    school_type = fields.Enum(SchoolType, metadata={"description": "ordinary, teaching_point (教学点) or special_education: teaching points under 50 pupils and special-education schools are not judged on R1-R7 or the CV."})
    enrolment_primary = WholeNumber(validate=ENROLMENT)
    enrolment_junior = WholeNumber(validate=ENROLMENT)
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    latitude = DecimalText(allow_none=True, validate=LAT, places=6)
    longitude = DecimalText(allow_none=True, validate=LON, places=6)
    active = fields.Boolean()


class SchoolQuery(Schema):
    jurisdiction_id = fields.UUID(load_default=None, metadata={"description": "Only schools under this node."})
    kind = fields.Enum(SchoolKind, load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(max=100), metadata={"description": "Name or code contains."})
