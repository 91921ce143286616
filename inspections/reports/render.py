"""The yearly report's content as a printable PDF (HTML laid out by WeasyPrint, the CJK font embedded)
and as XLSX (numbers as numbers). Words are chosen here, at display time; the content holds facts."""
from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import xlsxwriter
from jinja2 import Environment, FileSystemLoader, select_autoescape

LEVEL_ZH = {"primary": "小学", "junior": "初中"}
VERDICT_ZH = {"pass": "达标", "fail": "未达标", "incomplete": "待定（资料不全）", "exempt": "不参评",
              "invalid": "数据无效", "not_judged": "本年度未评估", None: "本年度未评估"}
AREA_ZH = {"A": "资源配置", "B": "政府保障程度", "C": "教育质量", "D": "社会认可度"}
LEVEL_OF_J = {"county": "县（市、区）", "city": "市"}
UNIT_ZH = {"teachers": "名教师", "rooms": "间", "classes": "个班", "students": "名学生", "m2": "平方米", "yuan": "元",
           "percentage_points": "个百分点"}
# Fonts named in the page's CSS, in order; fonts-noto-cjk provides the first two (.ci/run installs it).
FONTS = '"Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif'

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def _amount(v, unit=None) -> str:
    """A measured value, threshold or shortfall as it reads: numbers with their unit, times as HH:MM,
    yes/no, and ratings as they were answered."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "是" if v else "否"
    if unit == "time_of_day":
        from inspections.scoring.expressions import show_time
        return str(show_time(Decimal(str(v))))
    try:
        d = Decimal(str(v))
    except (ArithmeticError, ValueError):
        return str(v)
    if not d.is_finite():
        return str(v)
    shown = f"{d:,.2f}" if unit in ("m2", "yuan") else (f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,}")
    if unit == "percent":
        return f"{shown}%"
    return f"{shown} {UNIT_ZH.get(unit or '', '')}".strip()  # rates (per 100 pupils, per pupil) read bare


def _why(w: dict) -> str:
    if "escalations" in w:
        return f"督办 {w['escalations']} 次"
    if "overdue" in w:
        return f"逾期整改单 {w['overdue']} 张"
    if w.get("verdict") == "not_judged":
        return "本年度未评估"
    if "items" in w:
        return ("未达标" if w.get("verdict") == "fail" else "有未达标项") + "（" + "、".join(w["items"]) + "）"
    head = f"{LEVEL_ZH.get(w.get('level'), '')}{VERDICT_ZH.get(w.get('verdict'), w.get('verdict'))}"
    return head + ("：" + "、".join(AREA_ZH.get(a, a) for a in w["areas"]) if w.get("areas") else "")


COMPARATOR = {"ge": "≥", "le": "≤", "lt": "<", "eq": "="}
VETO_ZH = {"admission_by_exam": "以考试方式招生", "illegal_school_choice": "违规择校",
           "key_schools_or_classes": "设置重点校或重点班"}
SURVEY_ZH = {"students": "学生", "parents": "家长", "teachers": "教师", "principals": "校长", "deputies": "人大代表、政协委员"}


def _item_line(r: dict) -> str:
    name = (r.get("name") or {}).get("zh", "") if isinstance(r.get("name"), dict) else (r.get("name") or "")
    head = f"{r.get('code')} {name}".strip()
    if r.get("status") == "not_assessed":
        return f"{head}：未填报"
    unit = r.get("unit")
    line = (f"{head}：实测 {_amount(r.get('value'), unit)}，要求 {COMPARATOR.get(r.get('comparator'), '')} "
            f"{_amount(r.get('threshold'), unit)}")
    if r.get("shortfall") is not None:
        su = r.get("shortfall_unit") or unit
        su = "percentage_points" if su == "percent" else su
        line += f"，还差 {_amount(r['shortfall'], su)}"
    return line


def _target_line(t: dict) -> str:
    name = (t.get("name") or {}).get("zh", t.get("code"))
    if "min_fewer_per_year" in t:
        before = "无上年评估结果" if t.get("previous_not_met") is None else f"上年 {t['previous_not_met']} 所"
        return (f"{t['code']} {name}：本年 {t['schools_not_met']} 所未达标，{before}，"
                f"要求每年至少减少 {t['min_fewer_per_year']} 所")
    return (f"{t['code']} {name}：{t['schools_met']}/{t['schools']} 所学校达标（{float(t['share_met']) * 100:.2f}%），"
            f"目标 {float(t['min_share_met']) * 100:.2f}%")


def _natural(code: str) -> list:
    """B3.1 < B5 < B11.1, whatever order the stored JSON kept."""
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", code)]


def area_lines(a: dict, code: str) -> list[str]:
    """Why an area stands as it does, worded from the judgement's facts (the stored reasons when a
    judgement predates them)."""
    f = a.get("facts")
    if not f:
        return list(a["areas"].get(code, {}).get("reasons") or [])
    out: list[str] = []
    if code == "A":
        for s in f.get("schools") or []:
            if s.get("verdict") == "fail":
                out.append(f"{s['school']}：R1-R7 中 {7 - int(s.get('met_count') or 0)} 项未达标"
                           "（每校至少6项达标，未达标项不低于要求的85%）")
        for ind, cv in sorted((a.get("cv") or {}).items(), key=lambda kv: _natural(kv[0])):
            if cv.get("met") is False:
                out.append(f"{ind} 差异系数 {_amount(cv['cv'])}，超过 {_amount(cv['limit'])}")
            elif cv.get("met") is None and cv.get("schools_left_out"):
                out.append(f"{ind} 差异系数无法计算，未评估：{'、'.join(cv['schools_left_out'])}")
        if f.get("schools_unscored"):
            out.append("尚无有效评估结果：" + "、".join(f["schools_unscored"]))
        if f.get("exempt_schools"):
            out.append("不参加 R1-R7 与差异系数（特殊教育学校、不足50人的教学点）：" + "、".join(map(str, f["exempt_schools"])))
    if code in ("B", "C"):
        stored = a["areas"].get(code, {}).get("reasons") or []
        later = []
        for ic, row in sorted((f.get("items") or {}).items(), key=lambda kv: _natural(kv[0])):
            if row.get("section") == code and row.get("not_met"):
                line = (f"{ic} {(row.get('name') or {}).get('zh', '')}：{row['not_met']} 所学校未达标"
                        f"（{'、'.join(row.get('schools_not_met') or [])}）")
                # Items every school must meet (B3-B5) decide the area; the others are the schools' to put right.
                if any(f": {ic} " in r for r in stored):
                    out.append(line)
                else:
                    later.append(line + "，列入学校整改，不计入县级结论")
        if f.get("self_report") is None:
            out.append("本年度未提交县级自评报告")
        for _, r in sorted((f.get("county_items") or {}).items(), key=lambda kv: _natural(kv[0])):
            if r.get("section") == code and r.get("status") in ("not_met", "not_assessed"):
                out.append(_item_line(r))
        out += later
    for t in f.get("targets") or []:
        if t.get("section") == code and t.get("met") is not True:
            out.append(_target_line(t))
    if code == "D":
        sv = f.get("survey") or {}
        # In the standard's order (jsonb keeps keys in its own order).
        groups = dict(sorted((sv.get("groups") or {}).items(),
                             key=lambda kv: (list(SURVEY_ZH).index(kv[0]) if kv[0] in SURVEY_ZH else 99, kv[0])))
        shown = [f"{SURVEY_ZH.get(g, g)} {v['percent']}%（{v['satisfied']}/{v['respondents']}）" if v else
                 f"{SURVEY_ZH.get(g, g)} 未调查" for g, v in groups.items()]
        if sv.get("overall_percent") is not None or shown:
            out.append(f"满意度 {sv.get('overall_percent', '–')}%，要求不低于 {sv.get('min_percent', 85)}%"
                       + ("；" + "；".join(shown) if shown else ""))
    return out


def veto_lines(a: dict) -> list[str]:
    v = (a.get("facts") or {}).get("veto") or {}
    out = [f"一票否决：{VETO_ZH[k]}" for k in VETO_ZH if (v.get("facts") or {}).get(k) is True]
    if v.get("not_reported"):
        out.append("未报告：" + "、".join(VETO_ZH.get(k, k) for k in v["not_reported"]))
    return out


_env.filters.update(amount=_amount, why=_why)
_env.globals.update(area_lines=area_lines, veto_lines=veto_lines)
_env.globals.update(LEVEL_ZH=LEVEL_ZH, VERDICT_ZH=VERDICT_ZH, AREA_ZH=AREA_ZH, LEVEL_OF_J=LEVEL_OF_J, FONTS=FONTS)


def title(content: dict) -> str:
    return f"{content['jurisdiction']['name']}{content['year']}年度义务教育优质均衡发展督导报告"


def html(content: dict) -> str:
    return _env.get_template("yearly.html").render(c=content, title=title(content))


def _weasyprint():
    """WeasyPrint, imported here (it loads Pango, which only this job needs). Importing it sets Pillow's
    process-wide LOAD_TRUNCATED_IMAGES, under which a truncated photo would decode as a grey-filled one
    and pass the photo checks in the same worker: it is put back (the report embeds no images)."""
    from PIL import ImageFile
    import weasyprint
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return weasyprint


def pdf(content: dict) -> bytes:
    """The report as a PDF; WeasyPrint embeds (a subset of) each font it uses."""
    weasyprint = _weasyprint()
    HTML, URLFetcher = weasyprint.HTML, weasyprint.URLFetcher

    class NoFetch(URLFetcher):
        """The report is self-contained: nothing is fetched (no file, no network), whatever the text says."""

        def fetch(self, url, headers=None):
            raise ValueError(f"the yearly report fetches nothing ({url[:60]})")
    return HTML(string=html(content), url_fetcher=NoFetch()).write_pdf()


def xlsx(content: dict) -> bytes:
    """The report as a workbook: summary, assessment by area, schools ranked, tickets, laggards."""
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    bold = wb.add_format({"bold": True})
    t = content["tickets"]

    def sheet(name, header):
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, header, bold)
        ws.freeze_panes(1, 0)
        return ws

    def put(ws, r, values):
        for c, v in enumerate(values):
            if v is None:
                continue
            if isinstance(v, bool):
                ws.write_boolean(r, c, v)
            elif isinstance(v, (int, float, Decimal)):
                ws.write_number(r, c, float(v) if isinstance(v, Decimal) else v)
            else:
                ws.write_string(r, c, str(v))

    ws = sheet("概况", ["项目", "内容"])
    rows = [("报告", title(content)), ("年度", content["year"]), ("统计截至", content["as_of"]),
            ("生成时间", f"{content['generated_at']}（{content['zone']}）"),
            ("县（市、区）数", len(content["counties"])), ("学校数", len(content["schools"])),
            ("本年新开整改单", t["opened"]), ("本年销号", t["closed"]), ("本年逾期", t["overdue"]),
            ("本年督办次数", t["escalations"]), ("未销号（截至生成时）", t["open_now"])]
    for i, row in enumerate(rows, 1):
        put(ws, i, row)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 60)

    ws = sheet("评估结果", ["县（市、区）", "学段", "结论", "评估时间", "方面", "方面结论", "理由"])
    r = 1
    for c in content["counties"]:
        for level in ("primary", "junior"):
            a = c["assessment"].get(level)
            if a is None:
                put(ws, r, [c["name"], LEVEL_ZH[level], VERDICT_ZH[None]])
                r += 1
                continue
            for code, area in a["areas"].items():
                reasons = area_lines(a, code) or [""]
                for reason in reasons:
                    put(ws, r, [c["name"], LEVEL_ZH[level], VERDICT_ZH.get(a["verdict"], a["verdict"]), a["computed_at"],
                                f"{code} {AREA_ZH.get(code, '')}", VERDICT_ZH.get(area["verdict"], area["verdict"]),
                                reason])
                    r += 1
    ws.set_column(0, 3, 14)
    ws.set_column(4, 5, 14)
    ws.set_column(6, 6, 90)

    ws = sheet("学校排名", ["名次", "学校代码", "学校", "县（市、区）", "未达标项数", "其中R1-R7", "小学结论", "初中结论",
                        "本年新开整改单", "本年销号", "本年逾期", "本年督办", "未销号", "未达标项（实测/要求/差额）"])
    for i, s in enumerate(content["schools"], 1):
        both = len(s["verdicts"]) > 1  # a nine- or twelve-year school: say which section
        items = "；".join(("〔" + LEVEL_ZH.get(f["level"], "") + "〕" if both else "") + f"{f['code']} {f['name'] or ''} 实测 {_amount(f['value'], f.get('value_unit'))} "
                         f"要求 {_amount(f['threshold'], f.get('value_unit'))}"
                         + (f" 还差 {_amount(f['shortfall'], f['unit'])}" if f.get("shortfall") is not None else "")
                         for f in s["failed"])
        put(ws, i, [s["rank"], s["code"], s["name"], s["county"], s["failed_count"], s["failed_r"],
                    VERDICT_ZH.get(s["verdicts"].get("primary"), "") if "primary" in s["verdicts"] else None,
                    VERDICT_ZH.get(s["verdicts"].get("junior"), "") if "junior" in s["verdicts"] else None,
                    s["tickets"]["opened"], s["tickets"]["closed"], s["tickets"]["overdue"], s["tickets"]["escalations"],
                    s["tickets"]["open_now"], items])
    ws.set_column(2, 3, 20)
    ws.set_column(13, 13, 100)

    ws = sheet("整改单", ["县（市、区）", "学校数", "本年新开", "本年销号", "本年逾期", "本年督办", "未销号", "已提交自评报告"])
    for i, c in enumerate(content["counties"], 1):
        k = c["tickets"]
        put(ws, i, [c["name"], c["schools"], k["opened"], k["closed"], k["overdue"], k["escalations"], k["open_now"],
                    "是" if c["self_report"] else "否"])
    put(ws, len(content["counties"]) + 1, ["合计", len(content["schools"]), t["opened"], t["closed"], t["overdue"],
                                            t["escalations"], t["open_now"]])

    ws = sheet("后进名单", ["类别", "代码", "名称", "所属县（市、区）", "原因"])
    for i, lag in enumerate(content["laggards"], 1):
        put(ws, i, ["县（市、区）" if lag["kind"] == "county" else "学校", lag["code"], lag["name"], lag.get("county", ""),
                    "；".join(_why(w) for w in lag["why"])])
    ws.set_column(2, 4, 24)
    wb.close()
    return out.getvalue()
