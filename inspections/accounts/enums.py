"""Roles of the people who use the system."""
from enum import StrEnum


class Role(StrEnum):
    inspector = "inspector"
    school = "school"
    office = "office"
    admin = "admin"
