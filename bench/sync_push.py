"""Push throughput: batches of 500 mutations through the API vs a raw bulk insert of the same rows.

    .venv/bin/python -m bench.sync_push [--batches 30]

Each batch is 25 new visits, each followed by 19 answers (500 mutations), pushed through the real
endpoint in-process (Flask test client: JSON, auth, scope checks, a savepoint and an idempotency
row per mutation, audit, change log and revision rows in the same transaction). The baseline
inserts the same visit, visit-inspector and answer rows with one Core executemany per table in one
transaction, into the same PostgreSQL database, in the same run. Ratio = baseline time / push time.
A batch of creates is written by the push with binary COPY (`sync.bulk`), so the same rows are also
inserted raw with COPY, and that ratio is printed too.
"""
from __future__ import annotations

import argparse
import time
import uuid

from bench.sync_common import answer_value, machine, median, scratch_app

ITEMS = ['enrolment', 'teachers_above_required_qualification', 'key_teachers_county_level_or_above',
         'pe_art_teachers', 'teaching_aux_area_m2', 'sports_area_m2', 'equipment_value_yuan', 'multimedia_classrooms',
         'class_sizes', 'music_rooms_m2', 'art_rooms_m2', 'compulsory_enrolment', 'training_budget_yuan',
         'public_funds_budget_yuan', 'has_charter', 'it_in_management_and_teaching', 'moral_education_rating',
         'full_curriculum', 'no_excessive_homework']


def batch(school_id) -> list[dict]:
    out = []
    for _ in range(25):
        vid = str(uuid.uuid4())
        out.append({"mutation_id": str(uuid.uuid4()), "entity": "visit", "id": vid, "op": "create",
                    "fields": {"school_id": str(school_id), "notes": "bench"}})
        for i, code in enumerate(ITEMS):
            out.append({"mutation_id": str(uuid.uuid4()), "entity": "response", "id": str(uuid.uuid4()), "op": "create",
                        "fields": {"visit_id": vid, "item_code": code, "value": answer_value(code, i)}})
    return out


def raw_rows(school_id, template_version_id, user_id):
    from inspections.db import utcnow
    now = utcnow()
    visits, links, answers = [], [], []
    for _ in range(25):
        vid = uuid.uuid4()
        visits.append({"id": vid, "school_id": school_id, "template_version_id": template_version_id,
                       "status": "in_progress", "created_by_id": user_id, "notes": "bench", "version": 2,
                       "created_at": now, "updated_at": now, "started_at": now})
        links.append({"visit_id": vid, "inspector_id": user_id})
        for i, code in enumerate(ITEMS):
            answers.append({"id": uuid.uuid4(), "visit_id": vid, "item_code": code, "section": "",
                            "value": answer_value(code, i),
                            "flagged": False, "version": 1, "answered_by_id": user_id, "created_at": now,
                            "updated_at": now})
    return visits, links, answers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=30)
    args = ap.parse_args()
    from sqlalchemy import insert

    from inspections.db import new_session
    from inspections.visits.models import Response, Visit, VisitInspector
    from sync.bulk import insert_rows
    from bench.sync_common import make_world, token_for
    with scratch_app() as app:
        with new_session() as s:
            w = make_world(s)
            headers = token_for(s, w.inspector_a1)
            school_id, user_id = w.school_a1.id, w.inspector_a1.id
        client = app.test_client()
        # warm-up (first template lookups, connection pool)
        r = client.post("/api/v1/sync/push", json={"device_id": "bench", "mutations": batch(school_id)[:40]},
                        headers=headers)
        assert r.status_code == 200
        with new_session() as s:
            tv = s.get(Visit, uuid.UUID(r.get_json()["results"][0]["id"])).template_version_id
        engine = app.extensions["db_engine"]
        push_times, raw_times, copy_times = [], [], []
        for _ in range(args.batches):
            body = {"device_id": "bench", "mutations": batch(school_id)}
            t = time.perf_counter()
            r = client.post("/api/v1/sync/push", json=body, headers=headers)
            push_times.append(time.perf_counter() - t)
            statuses = {x["status"] for x in r.get_json()["results"]}
            assert r.status_code == 200 and statuses == {"applied"}, statuses
            visits, links, answers = raw_rows(school_id, tv, user_id)
            t = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(insert(Visit), visits)
                conn.execute(insert(VisitInspector), links)
                conn.execute(insert(Response), answers)
            raw_times.append(time.perf_counter() - t)
            visits, links, answers = raw_rows(school_id, tv, user_id)
            t = time.perf_counter()
            with engine.begin() as conn:
                for model, rows in ((Visit, visits), (VisitInspector, links), (Response, answers)):
                    insert_rows(conn, model.__table__, rows)
            copy_times.append(time.perf_counter() - t)
        push_med, raw_med = median(push_times), median(raw_times)
        print(f"machine: {machine()}")
        print(f"batches: {args.batches} x 500 mutations (25 visits + 475 answers)")
        print(f"push:  median {push_med * 1000:.0f} ms/batch = {500 / push_med:,.0f} mutations/s")
        print(f"raw:   median {raw_med * 1000:.0f} ms/batch = {500 / raw_med:,.0f} rows/s")
        copy_med = median(copy_times)
        print(f"raw COPY: median {copy_med * 1000:.0f} ms/batch = {500 / copy_med:,.0f} rows/s")
        print(f"ratio (raw time / push time): {raw_med / push_med:.2f}  (target >= 0.3)")
        print(f"ratio (raw COPY time / push time): {copy_med / push_med:.2f}")
        # Each batch's push and its baselines ran back to back: the median of those paired ratios is
        # the figure least moved by a slow spell of a shared machine.
        paired = median([r / p for r, p in zip(raw_times, push_times)])
        print(f"paired ratio, median over batches (raw / push): {paired:.2f}")


if __name__ == "__main__":
    main()
