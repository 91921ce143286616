"""Kinds in the jurisdiction tree and the school register."""
from enum import StrEnum


class JurisdictionLevel(StrEnum):
    province = "province"
    city = "city"
    county = "county"


PARENT_LEVEL = {
    JurisdictionLevel.province: None,
    JurisdictionLevel.city: JurisdictionLevel.province,
    JurisdictionLevel.county: JurisdictionLevel.city,
}


class SchoolKind(StrEnum):
    primary = "primary"
    junior = "junior"
    nine_year = "nine_year"
    twelve_year = "twelve_year"


class Locale(StrEnum):
    urban = "urban"
    town = "town"
    rural = "rural"


# Which compulsory-education sections (levels) a kind of school has; combined schools are
# evaluated section by section (DOMAIN.md, "A. Resource allocation").
SECTIONS = {
    SchoolKind.primary: ("primary",),
    SchoolKind.junior: ("junior",),
    SchoolKind.nine_year: ("primary", "junior"),
    SchoolKind.twelve_year: ("primary", "junior"),
}
