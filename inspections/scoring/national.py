"""The built-in national template: 教督〔2017〕6号 indicators a school visit can check.

No item may be answered "n/a" (no item sets `na_allowed`): every assessed school is judged on all
seven R1-R7 and on B3-B5. Special-education schools and small teaching points are told apart by
the school register, not by answers.

Combined (nine/twelve-year) schools: B4.1 (≤ 2000 students, the section's own enrolment) applies
unless the optional fact `combined_school` is true; then B4.2 checks `compulsory_enrolment` (the
whole compulsory stage, answered once for the school) against 2500 instead.
"""
from __future__ import annotations

BOTH = ["primary", "junior"]


def _item(code, kind, unit, section, zh, en, photo=False, **extra) -> dict:
    return {"code": code, "kind": kind, "unit": unit, "section": section, "levels": list(BOTH),
            "photo_required": photo, "help": {"zh": zh, "en": en}, "enabled": True, **extra}


def _indicator(code, section, zh, en, expr, comparator, threshold, unit, shortfall, severity,
               school_rule=False, **extra) -> dict:
    return {"code": code, "name": {"zh": zh, "en": en}, "section": section, "levels": list(BOTH), "expr": expr,
            "comparator": comparator, "threshold": threshold, "unit": unit, "shortfall": shortfall,
            "severity": severity, "weight": "1", "enabled": True, "school_rule": school_rule, **extra}


def _fact(code, **extra) -> dict:
    return {"op": "fact", "fact": code, **extra}


def _per_100(code):
    return {"op": "per_100", "fact": code}


def _per_student(code):
    return {"op": "per_student", "fact": code}


def _levels(primary: str, junior: str) -> dict:
    return {"primary": primary, "junior": junior}


WHOLE = "whole"
CENT = "cent"


def _combined() -> dict:
    return _fact("combined_school", default=False)


# B3 rooms and B4 size: county items every school meets, judged once per school (a nine-year
# school's rooms serve all its classes; its size is one figure), not once per section.
SCHOOL_WIDE = {"every_school": True, "per_school": True}

ITEMS = [
    _item("enrolment", "integer", "students", "A", "本学段在校学生数（九年/十二年一贯制学校按学段分别填写）",
          "Students enrolled in this stage (a nine/twelve-year school answers per section)"),
    _item("teachers_above_required_qualification", "integer", "teachers", "A",
          "高于规定学历的专任教师数（小学专科及以上，初中本科及以上）",
          "Full-time teachers above the required qualification (primary: college diploma or higher; "
          "junior: bachelor's degree or higher)"),
    _item("key_teachers_county_level_or_above", "integer", "teachers", "A", "县级及以上骨干教师数",
          "Key teachers recognised at county level or above"),
    _item("pe_art_teachers", "integer", "teachers", "A", "体育、艺术（音乐、美术）专任教师数",
          "Full-time PE and art (music, fine art) teachers"),
    _item("teaching_aux_area_m2", "number", "m2", "A", "教学及辅助用房面积（平方米）",
          "Floor area of teaching and auxiliary rooms (m²)"),
    _item("sports_area_m2", "number", "m2", "A", "体育运动场馆面积（平方米）",
          "Area of sports grounds and halls (m²)", photo=True),
    _item("equipment_value_yuan", "number", "yuan", "A", "教学仪器设备值（元）",
          "Value of teaching instruments and equipment (yuan)"),
    _item("multimedia_classrooms", "integer", "rooms", "A", "网络多媒体教室数",
          "Networked multimedia classrooms", photo=True),
    _item("class_sizes", "class_sizes", "students", "B", "各班学生数，每班一个数",
          "Students in each class, one number per class"),
    _item("music_rooms_m2", "room_areas", "m2", "B", "各音乐专用教室面积（平方米），每间一个数；没有则填空列表",
          "Floor area of each music room (m²), one number per room; an empty list if there are none", photo=True),
    _item("art_rooms_m2", "room_areas", "m2", "B", "各美术专用教室面积（平方米），每间一个数；没有则填空列表",
          "Floor area of each art room (m²), one number per room; an empty list if there are none", photo=True),
    _item("combined_school", "boolean", "", "B", "是否为九年一贯制或十二年一贯制学校（不填视为否）",
          "Is this a nine-year or twelve-year school? (unanswered means no)"),
    _item("compulsory_enrolment", "integer", "students", "B", "一贯制学校义务教育阶段在校生总数（仅一贯制学校填写）",
          "Students in the whole compulsory stage of a nine/twelve-year school (combined schools only)"),
    _item("training_budget_yuan", "number", "yuan", "C", "本年度教师培训经费（元）",
          "This year's teacher-training budget (yuan)"),
    _item("public_funds_budget_yuan", "number", "yuan", "C", "本年度公用经费预算总额（元）",
          "This year's total public-funds (operating) budget (yuan)"),
    _item("has_charter", "boolean", "", "C", "学校是否有章程", "Does the school have a charter?", photo=True),
    _item("it_in_management_and_teaching", "boolean", "", "C", "是否在管理和教学中运用信息技术",
          "Does the school use IT in management and teaching?"),
    _item("teachers_use_ict_well", "boolean", "", "C", "教师能熟练运用信息化手段组织教学",
          "Do teachers use ICT fluently in their teaching?"),
    _item("equipment_well_used", "boolean", "", "C", "设施设备利用率高（专用教室、仪器设备正常使用）",
          "Are facilities and equipment well used (special rooms and instruments in regular use)?"),
    _item("moral_education_rating", "rating", "", "C", "德育工作与校园文化建设评价",
          "Rating of moral education and campus culture", choices=["excellent", "good", "fair", "poor"]),
    _item("full_curriculum", "boolean", "", "C", "是否开齐开足课程、教学秩序规范、综合实践活动有效开展",
          "Full curriculum taught, orderly teaching, practical activities held?"),
    _item("no_excessive_homework", "boolean", "", "C", "学生课业负担是否合理（无过重作业负担）",
          "Is the homework burden reasonable (no excessive homework)?"),
]

INDICATORS = [
    _indicator("R1", "A", "每百名学生拥有高于规定学历教师数", "Teachers above required qualification per 100 students",
               _per_100("teachers_above_required_qualification"), "ge", _levels("4.2", "5.3"),
               "per_100_students", {"unit": "teachers", "round": WHOLE}, "high", school_rule=True),
    _indicator("R2", "A", "每百名学生拥有县级以上骨干教师数", "County-level-or-above key teachers per 100 students",
               _per_100("key_teachers_county_level_or_above"), "ge", _levels("1.0", "1.0"),
               "per_100_students", {"unit": "teachers", "round": WHOLE}, "high", school_rule=True),
    _indicator("R3", "A", "每百名学生拥有体育、艺术专任教师数", "PE and art teachers per 100 students",
               _per_100("pe_art_teachers"), "ge", _levels("0.9", "0.9"),
               "per_100_students", {"unit": "teachers", "round": WHOLE}, "high", school_rule=True),
    _indicator("R4", "A", "生均教学及辅助用房面积", "Teaching and auxiliary room area per student",
               _per_student("teaching_aux_area_m2"), "ge", _levels("4.5", "5.8"),
               "m2_per_student", {"unit": "m2", "round": CENT}, "high", school_rule=True),
    _indicator("R5", "A", "生均体育运动场馆面积", "Sports ground and hall area per student",
               _per_student("sports_area_m2"), "ge", _levels("7.5", "10.2"),
               "m2_per_student", {"unit": "m2", "round": CENT}, "high", school_rule=True),
    _indicator("R6", "A", "生均教学仪器设备值", "Teaching equipment value per student",
               _per_student("equipment_value_yuan"), "ge", _levels("2000", "2500"),
               "yuan_per_student", {"unit": "yuan", "round": CENT}, "high", school_rule=True),
    _indicator("R7", "A", "每百名学生拥有网络多媒体教室数", "Networked multimedia classrooms per 100 students",
               _per_100("multimedia_classrooms"), "ge", _levels("2.3", "2.4"),
               "per_100_students", {"unit": "rooms", "round": WHOLE}, "high", school_rule=True),
    _indicator("B3.1", "B", "每12个班级配备音乐专用教室1间以上", "At least 1 music room per 12 classes",
               {"op": "rooms_per_12_classes", "fact": "music_rooms_m2"}, "ge", "1",
               "rooms_per_12_classes", {"unit": "rooms", "round": WHOLE}, "high", **SCHOOL_WIDE),
    _indicator("B3.2", "B", "每12个班级配备美术专用教室1间以上", "At least 1 art room per 12 classes",
               {"op": "rooms_per_12_classes", "fact": "art_rooms_m2"}, "ge", "1",
               "rooms_per_12_classes", {"unit": "rooms", "round": WHOLE}, "high", **SCHOOL_WIDE),
    _indicator("B3.3", "B", "每间音乐专用教室面积不小于96平方米", "Every music room at least 96 m²",
               {"op": "min_of", "fact": "music_rooms_m2"}, "ge", "96",
               "m2", {"unit": "rooms", "round": WHOLE}, "high", **SCHOOL_WIDE),
    _indicator("B3.4", "B", "每间美术专用教室面积不小于90平方米", "Every art room at least 90 m²",
               {"op": "min_of", "fact": "art_rooms_m2"}, "ge", "90",
               "m2", {"unit": "rooms", "round": WHOLE}, "high", **SCHOOL_WIDE),
    _indicator("B4.1", "B", "学校规模不超过2000人", "School size at most 2000 students",
               _fact("enrolment"), "le", "2000", "students", {"unit": "students", "round": WHOLE}, "high",
               applies_if={"op": "not", "arg": _combined()}, every_school=True),
    _indicator("B4.2", "B", "九年一贯制、十二年一贯制学校义务教育阶段规模不超过2500人",
               "Nine/twelve-year school: compulsory stage at most 2500 students",
               _fact("compulsory_enrolment"), "le", "2500", "students", {"unit": "students", "round": WHOLE},
               "high", applies_if=_combined(), **SCHOOL_WIDE),
    _indicator("B5", "B", "班额：小学不超过45人，初中不超过50人", "Class size: primary at most 45, junior at most 50",
               {"op": "max_of", "fact": "class_sizes"}, "le", _levels("45", "50"),
               "students", {"unit": "classes", "round": WHOLE}, "high", every_school=True),
    _indicator("C3.1", "C", "学校有章程", "The school has a charter",
               _fact("has_charter"), "eq", True, "", None, "medium"),
    _indicator("C3.2", "C", "学校在管理和教学中运用信息技术", "The school uses IT in management and teaching",
               _fact("it_in_management_and_teaching"), "eq", True, "", None, "medium"),
    _indicator("C4", "C", "教师培训经费不低于年度公用经费预算总额的5%",
               "Teacher-training budget at least 5% of the public-funds budget",
               {"op": "percent", "num": _fact("training_budget_yuan"), "den": _fact("public_funds_budget_yuan")},
               "ge", "5", "percent", {"unit": "yuan", "round": CENT}, "medium"),
    _indicator("C5", "C", "教师能熟练运用信息化手段组织教学，设施设备利用率达到较高水平",
               "Teachers use ICT fluently and equipment is well used",
               {"op": "all", "args": [_fact("teachers_use_ict_well"), _fact("equipment_well_used")]}, "eq", True, "",
               None, "medium"),
    _indicator("C6", "C", "德育工作、校园文化建设水平达到良好以上", "Moral education and campus culture rated good or better",
               {"op": "rating_at_least", "fact": "moral_education_rating", "value": "good"}, "eq", True, "", None,
               "medium"),
    _indicator("C7", "C", "课程开齐开足，教学秩序规范，综合实践活动有效开展",
               "Full curriculum, orderly teaching, practical activities held",
               _fact("full_curriculum"), "eq", True, "", None, "medium"),
    _indicator("C8", "C", "无过重课业负担", "No excessive homework burden",
               _fact("no_excessive_homework"), "eq", True, "", None, "medium"),
]

# --- county items: what the county reports once a year (self-report), judged by the same engine ---

def _county_item(code, kind, unit, section, zh, en, levels=None) -> dict:
    return {**_item(code, kind, unit, section, zh, en), "levels": list(levels or BOTH)}


def _county_indicator(code, section, zh, en, expr, comparator, threshold, unit, shortfall=None, levels=None) -> dict:
    return {**_indicator(code, section, zh, en, expr, comparator, threshold, unit, shortfall, "high"),
            "levels": list(levels or BOTH)}


PCT = {"unit": "percentage_points", "round": CENT}
COUNTY_ITEMS = [
    _county_item("b1_layout_planned", "boolean", "", "B", "义务教育学校布局是否合理，符合国家规定要求",
                 "Is the layout of compulsory-education schools planned rationally?"),
    _county_item("b2_same_construction_standard", "boolean", "", "B", "城乡学校是否执行统一的建设标准",
                 "Do urban and rural schools share one construction standard?"),
    _county_item("b2_same_staffing_standard", "boolean", "", "B", "城乡学校是否执行统一的教职工编制标准",
                 "Do urban and rural schools share one staffing standard?"),
    _county_item("b2_same_funding_baseline", "boolean", "", "B", "城乡学校是否执行统一的生均公用经费基准定额",
                 "Do urban and rural schools share one per-student funding baseline?"),
    _county_item("b2_same_equipment_standard", "boolean", "", "B", "城乡学校是否执行统一的装备配备标准",
                 "Do urban and rural schools share one equipment standard?"),
    _county_item("b6_small_schools_funded_as_100", "boolean", "", "B",
                 "不足100名学生的村小学和教学点是否按100名学生核定公用经费",
                 "Are village schools and teaching points under 100 pupils funded as if they had 100?"),
    _county_item("b7_special_ed_funds_per_student_yuan", "number", "yuan", "B", "特殊教育学校生均公用经费（元）",
                 "Public funds per special-education pupil (yuan)"),
    _county_item("b8_teacher_avg_pay_yuan", "number", "yuan", "B", "全县义务教育学校教师平均工资收入（元/年）",
                 "Teachers' average pay (yuan a year)"),
    _county_item("b8_civil_servant_avg_pay_yuan", "number", "yuan", "B", "当地公务员平均工资收入（元/年）",
                 "Local civil servants' average pay (yuan a year)"),
    _county_item("b9_training_360h_percent", "number", "percent", "B", "教师5年360学时培训完成率（%）",
                 "Teachers who completed 360 training hours in 5 years (%)"),
    _county_item("b10_staffing_within_quota", "boolean", "", "B", "县级教育行政部门是否在核定总额内统筹分配各校教职工编制和岗位",
                 "Does the county allocate staffing quotas across schools within the approved total?"),
    _county_item("b11_rotation_percent", "number", "percent", "B", "上一年度交流轮岗教师占符合条件教师总数的比例（%）",
                 "Eligible teachers rotated between schools last year (%)"),
    _county_item("b11_key_teachers_of_rotated_percent", "number", "percent", "B", "交流轮岗教师中骨干教师的比例（%）",
                 "Key teachers among those rotated (%)"),
    _county_item("b12_certified_percent", "number", "percent", "B", "专任教师持有教师资格证上岗率（%）",
                 "Full-time teachers holding a teaching certificate (%)"),
    _county_item("b13_nearby_admission_primary_percent", "number", "percent", "B", "城区和镇区公办小学就近划片入学比例（%）",
                 "Public urban/town primary schools admitting by nearby zone (%)", levels=["primary"]),
    _county_item("b13_nearby_admission_junior_percent", "number", "percent", "B", "城区和镇区公办初中就近划片入学比例（%）",
                 "Public urban/town junior schools admitting by nearby zone (%)", levels=["junior"]),
    _county_item("b14_model_hs_quota_percent", "number", "percent", "B",
                 "优质高中招生名额分配到区域内初中的比例（%）",
                 "Provincial model high schools' places allocated to junior schools (%)"),
    _county_item("b15_left_behind_cared", "boolean", "", "B", "留守儿童关爱体系是否健全",
                 "Is there a working care system for left-behind children?"),
    _county_item("b15_migrant_in_public_percent", "number", "percent", "B",
                 "符合条件的随迁子女在公办学校和政府购买服务的民办学校就读的比例（%）",
                 "Eligible migrant children in public or government-funded schools (%)"),
    _county_item("c1_junior_retention_percent", "number", "percent", "C", "全县初中三年巩固率（%）",
                 "Junior three-year retention (%)", levels=["junior"]),
    _county_item("c2_disabled_enrolment_percent", "number", "percent", "C", "全县残疾儿童少年入学率（%）",
                 "Enrolment of disabled children (%)"),
    _county_item("c9_subjects_at_level_iii", "boolean", "", "C", "国家义务教育质量监测相关科目学生学业水平是否达到Ⅲ级以上",
                 "Are the national quality-monitoring subjects at level III or above?"),
    _county_item("c9_difference_rate", "number", "", "C", "国家义务教育质量监测校际差异率",
                 "Inter-school difference rate in national quality monitoring"),
]


COUNTY_INDICATORS = [
    _county_indicator("B1", "B", "义务教育学校规划布局合理", "School layout planned rationally",
                      _fact("b1_layout_planned"), "eq", True, ""),
    _county_indicator("B2", "B", "城乡学校执行统一的建设、编制、经费、装备标准",
                      "One construction, staffing, funding and equipment standard for urban and rural schools",
                      {"op": "all", "args": [_fact("b2_same_construction_standard"),
                                             _fact("b2_same_staffing_standard"), _fact("b2_same_funding_baseline"),
                                             _fact("b2_same_equipment_standard")]}, "eq", True, ""),
    _county_indicator("B6", "B", "不足100名学生的村小学和教学点按100名学生核定公用经费",
                      "Small village schools and teaching points funded as 100 pupils",
                      _fact("b6_small_schools_funded_as_100"), "eq", True, ""),
    _county_indicator("B7", "B", "特殊教育学校生均公用经费不低于6000元", "Special-education funds at least 6000 yuan per pupil",
                      _fact("b7_special_ed_funds_per_student_yuan"), "ge", "6000", "yuan",
                      {"unit": "yuan", "round": CENT}),
    _county_indicator("B8", "B", "教师平均工资收入水平不低于当地公务员平均工资收入水平",
                      "Teachers' average pay at least civil servants'",
                      {"op": "percent", "num": _fact("b8_teacher_avg_pay_yuan"),
                       "den": _fact("b8_civil_servant_avg_pay_yuan")}, "ge", "100", "percent",
                      {"unit": "yuan", "round": CENT}),
    _county_indicator("B9", "B", "教师5年360学时培训完成率达到100%", "100% of teachers complete 360 training hours",
                      _fact("b9_training_360h_percent"), "ge", "100", "percent", PCT),
    _county_indicator("B10", "B", "县级教育行政部门在核定的教职工编制总额内统筹分配各校编制和岗位",
                      "Staffing quotas allocated within the approved total", _fact("b10_staffing_within_quota"),
                      "eq", True, ""),
    _county_indicator("B11.1", "B", "每年交流轮岗教师比例不低于符合交流条件教师总数的10%",
                      "At least 10% of eligible teachers rotate each year", _fact("b11_rotation_percent"),
                      "ge", "10", "percent", PCT),
    _county_indicator("B11.2", "B", "交流轮岗教师中骨干教师比例不低于20%", "Key teachers at least 20% of those rotated",
                      _fact("b11_key_teachers_of_rotated_percent"), "ge", "20", "percent", PCT),
    _county_indicator("B12", "B", "专任教师持有教师资格证上岗率达到100%", "100% of full-time teachers certified",
                      _fact("b12_certified_percent"), "ge", "100", "percent", PCT),
    _county_indicator("B13.1", "B", "城区和镇区公办小学就近划片入学比例达到100%", "Primary: 100% admitted by nearby zone",
                      _fact("b13_nearby_admission_primary_percent"), "ge", "100", "percent", PCT,
                      levels=["primary"]),
    _county_indicator("B13.2", "B", "城区和镇区公办初中就近划片入学比例达到95%以上", "Junior: at least 95% admitted by nearby zone",
                      _fact("b13_nearby_admission_junior_percent"), "ge", "95", "percent", PCT,
                      levels=["junior"]),
    _county_indicator("B14", "B", "优质高中招生名额分配比例不低于50%", "At least 50% of model high school places allocated",
                      _fact("b14_model_hs_quota_percent"), "ge", "50", "percent", PCT),
    _county_indicator("B15.1", "B", "留守儿童关爱体系健全", "Left-behind children cared for", _fact("b15_left_behind_cared"),
                      "eq", True, ""),
    _county_indicator("B15.2", "B", "符合条件的随迁子女在公办学校和政府购买服务的民办学校就读的比例不低于85%",
                      "At least 85% of eligible migrant children in public or funded schools",
                      _fact("b15_migrant_in_public_percent"), "ge", "85", "percent", PCT),
    _county_indicator("C1", "C", "全县初中三年巩固率达到95%以上", "Junior three-year retention at least 95%",
                      _fact("c1_junior_retention_percent"), "ge", "95", "percent", PCT, levels=["junior"]),
    _county_indicator("C2", "C", "全县残疾儿童少年入学率达到95%以上", "Enrolment of disabled children at least 95%",
                      _fact("c2_disabled_enrolment_percent"), "ge", "95", "percent", PCT),
    _county_indicator("C9.1", "C", "国家义务教育质量监测相关科目学生学业水平达到Ⅲ级以上",
                      "Quality-monitoring subjects at level III or above", _fact("c9_subjects_at_level_iii"),
                      "eq", True, ""),
    _county_indicator("C9.2", "C", "国家义务教育质量监测校际差异率低于0.15", "Inter-school difference rate below 0.15",
                      _fact("c9_difference_rate"), "lt", "0.15", ""),
]

# 社会认可度: a survey of five respondent groups, judged on all answers together.
SURVEY = {"groups": ["students", "parents", "teachers", "principals", "deputies"], "min_percent": "85"}

NATIONAL_2017: dict = {
    "code": "national-2017",
    "name": {"zh": "县域义务教育优质均衡发展督导评估（教督〔2017〕6号）",
             "en": "County assessment of high-quality balanced compulsory education (2017)"},
    "items": ITEMS,
    "indicators": INDICATORS,
    # Government guarantee and education quality items the county reports, and the survey (areas B, C, D).
    "county": {"items": COUNTY_ITEMS, "indicators": COUNTY_INDICATORS, "survey": SURVEY},
    "rules": {
        # At most one of R1-R7 missed, and that one at >= 85% of its threshold.
        "school": {"max_not_met": 1, "min_ratio_not_met": "0.85"},
        # The 2017 standard asks for both: every school passes the school rule, and every CV within the limit.
        "county": {"cv_limit": _levels("0.50", "0.45"), "require_all_schools_pass": True},
    },
}
