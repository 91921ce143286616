"""A county self-report meeting every county item of the national template, for tests to spoil one fact."""
from __future__ import annotations

GOOD_REPORT_FACTS = {
    "b1_layout_planned": True, "b2_same_construction_standard": True, "b2_same_staffing_standard": True,
    "b2_same_funding_baseline": True, "b2_same_equipment_standard": True, "b6_small_schools_funded_as_100": True,
    "b7_special_ed_funds_per_student_yuan": 6500, "b8_teacher_avg_pay_yuan": 98000,
    "b8_civil_servant_avg_pay_yuan": 96000, "b9_training_360h_percent": 100, "b10_staffing_within_quota": True,
    "b11_rotation_percent": "12.5", "b11_key_teachers_of_rotated_percent": 25, "b12_certified_percent": 100,
    "b13_nearby_admission_primary_percent": 100, "b13_nearby_admission_junior_percent": "97.2",
    "b14_model_hs_quota_percent": 55, "b15_left_behind_cared": True, "b15_migrant_in_public_percent": 90,
    "c1_junior_retention_percent": "97.5", "c2_disabled_enrolment_percent": 96, "c9_subjects_at_level_iii": True,
    "c9_difference_rate": "0.12",
}
GROUPS = ("students", "parents", "teachers", "principals", "deputies")
GOOD_SURVEY = {g: {"respondents": 200, "satisfied": 180} for g in GROUPS}
NO_VETO = {"admission_by_exam": False, "illegal_school_choice": False, "key_schools_or_classes": False}


def good_report(**facts) -> dict:
    """The full good self-report with some facts changed (None removes a fact)."""
    merged = {**GOOD_REPORT_FACTS, **facts}
    return {"facts": {k: v for k, v in merged.items() if v is not None}, "survey": dict(GOOD_SURVEY),
            "vetoes": dict(NO_VETO), "documents": []}
