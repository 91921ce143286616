"""Plain builders for scoring tests: a school comfortably above every national threshold."""
from __future__ import annotations

import math
from decimal import Decimal

# Rates about 20% above the national thresholds, so a test changes only the fact it is about.
RATES = {
    "primary": {"teachers_above_required_qualification": "5.0", "key_teachers_county_level_or_above": "1.2",
                "pe_art_teachers": "1.1", "multimedia_classrooms": "2.8",
                "teaching_aux_area_m2": "5.4", "sports_area_m2": "9.0", "equipment_value_yuan": "2400"},
    "junior": {"teachers_above_required_qualification": "6.4", "key_teachers_county_level_or_above": "1.2",
               "pe_art_teachers": "1.1", "multimedia_classrooms": "2.9",
               "teaching_aux_area_m2": "7.0", "sports_area_m2": "12.3", "equipment_value_yuan": "3000"},
}
PER_100 = {"teachers_above_required_qualification", "key_teachers_county_level_or_above", "pe_art_teachers",
           "multimedia_classrooms"}
R_FACTS = {"R1": "teachers_above_required_qualification", "R2": "key_teachers_county_level_or_above",
           "R3": "pe_art_teachers", "R4": "teaching_aux_area_m2", "R5": "sports_area_m2",
           "R6": "equipment_value_yuan", "R7": "multimedia_classrooms"}


def good_facts(level: str, enrolment: int = 1000, **overrides) -> dict:
    """Facts of a school that meets every national indicator at `level`, with overrides applied."""
    facts: dict = {"enrolment": enrolment}
    for code, rate in RATES[level].items():
        amount = Decimal(rate) * enrolment
        facts[code] = math.ceil(amount / 100) if code in PER_100 else int(amount) if amount == int(amount) \
            else str(amount)
    size = 40 if level == "primary" else 45
    classes = math.ceil(enrolment / size)
    rooms = math.ceil(classes / 12)
    facts |= {"class_sizes": [size] * classes, "music_rooms_m2": [100] * rooms, "art_rooms_m2": [95] * rooms,
              "training_budget_yuan": 6000, "public_funds_budget_yuan": 100000, "has_charter": True,
              "it_in_management_and_teaching": True, "full_curriculum": True, "no_excessive_homework": True,
              "teachers_use_ict_well": True, "equipment_well_used": True,
              "moral_education_rating": "good"}
    facts.update(overrides)
    return facts
