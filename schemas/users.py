"""User accounts (managed by offices and admins)."""
from marshmallow import Schema, fields, validate

from inspections.accounts.enums import Role

USERNAME = validate.Regexp(r"^[A-Za-z0-9_.@-]{3,80}$", error="3-80 letters, digits or . _ @ -")
PASSWORD = validate.Length(min=8, max=200)


class UserOut(Schema):
    id = fields.UUID()
    username = fields.String()
    display_name = fields.String()
    role = fields.Enum(Role)
    jurisdiction_id = fields.UUID(allow_none=True)
    school_id = fields.UUID(allow_none=True)
    assigned_school_ids = fields.List(fields.UUID())
    active = fields.Boolean()
    created_at = fields.AwareDateTime()


class UserIn(Schema):
    username = fields.String(required=True, validate=USERNAME)
    display_name = fields.String(load_default=None, validate=validate.Length(max=200))
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    role = fields.Enum(Role, required=True)
    jurisdiction_id = fields.UUID(load_default=None)
    school_id = fields.UUID(load_default=None)
    assigned_school_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=500))


class UserPatch(Schema):
    display_name = fields.String(validate=validate.Length(max=200),
                                 metadata={"description": "Empty: the username (as on creation)."})
    password = fields.String(load_only=True, validate=PASSWORD)
    active = fields.Boolean()
    assigned_school_ids = fields.List(fields.UUID(), validate=validate.Length(max=500))


class UserQuery(Schema):
    role = fields.Enum(Role, load_default=None)
