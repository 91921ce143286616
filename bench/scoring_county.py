"""Benchmark: judging a county (1,000 schools) and a province (50,000) from stored facts.

Run: .venv/bin/python -m bench.scoring_county [--sizes 1000,5000,50000] [--rounds 3]

Facts are generated with a fixed seed (plausible figures from the demo generator, a sixth of the
schools weak), serialised to JSON and parsed back, as they come out of the `visit_scores.facts`
column; then `engine.score_county` judges them with the national template, best of N rounds.
"""
from __future__ import annotations

import argparse
import json
import random
import time

from inspections.demo import school_facts
from inspections.scoring import engine
from inspections.scoring.national import NATIONAL_2017


def make_schools(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        enrolment = rng.randint(120, 2200)
        rows.append({"school": f"S{i:06d}", "facts": school_facts(rng, "primary", enrolment, weak=i % 6 == 0)})
    return json.loads(json.dumps(rows))  # as stored: plain JSON


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,5000,50000")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    base = None
    print(f"{'schools':>8} {'best s':>8} {'schools/s':>10} {'s per 1k':>9} {'vs smallest':>12}  verdict")
    for n in sizes:
        schools = make_schools(n)
        best = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            result = engine.score_county(NATIONAL_2017, "primary", schools)
            best = min(best, time.perf_counter() - t0)
        per_k = best / n * 1000
        base = base or per_k
        print(f"{n:>8} {best:>8.3f} {n / best:>10.0f} {per_k:>9.3f} {per_k / base:>11.2f}x  {result.verdict.value}")


if __name__ == "__main__":
    main()
