"""Login, tokens and devices."""
from marshmallow import Schema, fields, validate

from inspections.accounts.enums import Role


class DeviceIn(Schema):
    id = fields.UUID(required=True, metadata={"description": "Generated on the device, kept for its lifetime."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    platform = fields.String(load_default=None, validate=validate.Length(max=60))


class LoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    device = fields.Nested(DeviceIn, load_default=None, metadata={"description": "Register this device with the token."})


class MeOut(Schema):
    id = fields.UUID()
    username = fields.String()
    display_name = fields.String()
    role = fields.Enum(Role)
    jurisdiction_id = fields.UUID(allow_none=True)
    school_id = fields.UUID(allow_none=True)
    assigned_school_ids = fields.List(fields.UUID())


class TokenOut(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_at = fields.AwareDateTime()
    device_id = fields.UUID(allow_none=True)
    user = fields.Nested(MeOut)


class DeviceOut(Schema):
    id = fields.UUID()
    name = fields.String()
    platform = fields.String(allow_none=True)
    registered_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)
