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


class SchoolType(StrEnum):
    """What kind of school the register says it is; decides whether R1-R7 and the CV count it."""

    ordinary = "ordinary"
    teaching_point = "teaching_point"  # 教学点: under 50 pupils it is equipped as needed, not judged on R1-R7
    special_education = "special_education"  # 特殊教育学校: never judged on R1-R7


# Teaching points below this many pupils are left out of R1-R7 and the CV (seed 000: 不足50人的教学点).
TEACHING_POINT_MIN = 50


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
