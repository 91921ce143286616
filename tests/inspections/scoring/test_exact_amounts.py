"""Amounts stay exact decimals from the answer to the stored score to the ticket, on SQLite too."""
from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

from inspections.db import ExactDecimal
from inspections.scoring.engine import score_school
from inspections.scoring.national import NATIONAL_2017
from inspections.scoring.service import exact, shortfall_text
from tests.factories import GOOD_PRIMARY

R4_SHORT = {**GOOD_PRIMARY, "enrolment": 700, "teaching_aux_area_m2": 3000.1}  # 3150 - 3000.1 = 149.9 m²


def test_the_r4_shortfall_survives_the_stored_json_exactly():
    result = score_school(NATIONAL_2017, "primary", R4_SHORT).to_json_dict()
    stored = json.loads(json.dumps(result))  # what the JSON column gives back
    r4 = next(f for f in stored["failed_items"] if f["code"] == "R4")
    assert exact(r4["shortfall"]) == Decimal("149.9") and str(exact(r4["shortfall"])) == "149.9"
    assert shortfall_text(r4["shortfall"], "m2") == "149.90 平方米"


def test_sqlite_stores_a_float_amount_as_the_decimal_it_reads_as():
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("amount", ExactDecimal(18, 2)))
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "amount": 149.9}, {"id": 2, "amount": Decimal("149.9")},
                                     {"id": 3, "amount": 2}])
        raw = [r[0] for r in conn.execute(text("SELECT amount FROM t ORDER BY id"))]
        back = [r[0] for r in conn.execute(select(table.c.amount).order_by(table.c.id))]
    assert raw == ["149.90", "149.90", "2.00"]  # as PostgreSQL's NUMERIC(18, 2) holds them
    assert back == [Decimal("149.90"), Decimal("149.90"), Decimal("2.00")]
