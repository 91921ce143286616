"""The review's attacker suite, kept in CI: schemathesis over /api/v1/openapi.json with a token of each
role, positive and negative input for every operation, bounded in examples; any 5xx, a response that
does not match its documented schema, or an undocumented content type fails the run."""
from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from tests.factories import make_world, token_for

# Examples per operation and role: valid input, then invalid input (4 roles x ~60 operations). Derandomized,
# so CI sends the same requests every run; ATTACK_EXAMPLES=50 locally for a longer hunt.
EXAMPLES = int(os.environ.get("ATTACK_EXAMPLES", "3"))
NEGATIVE_EXAMPLES = max(1, EXAMPLES * 2 // 3)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Logging out would spend the token the rest of the run uses; it has its own tests (tests/api/test_auth.py).
SKIP = {("DELETE", "/api/v1/auth/token")}
ROLES = ["admin", "office_a1", "inspector_a1", "school_user_a1"]


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _operations(api_schema):
    for result in api_schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) not in SKIP and (op.method.upper(), "/api/v1" + op.path) not in SKIP:
            yield op


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_no_5xx_and_responses_match_the_document(app, session, api_schema, role):
    w = make_world(session)
    headers = token_for(session, getattr(w, role))
    failures: list[str] = []
    started = time.monotonic()
    count = 0
    for op in _operations(api_schema):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = op.as_strategy(generation_mode=mode)

            @settings(max_examples=EXAMPLES if mode == GenerationMode.POSITIVE else NEGATIVE_EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                nonlocal count
                count += 1
                try:
                    case.call_and_validate(headers={**(case.headers or {}), **headers}, checks=CHECKS)
                except AssertionError:
                    raise
                except Exception as exc:  # schemathesis raises its own failure group for check failures
                    raise AssertionError(str(exc)[:2000]) from None

            try:
                run()
            except Unsatisfiable:
                continue  # nothing to send in this mode (e.g. no parameter can be made invalid)
            except AssertionError as exc:
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {str(exc)[:1500]}")
    elapsed = time.monotonic() - started
    print(f"{role}: {count} requests in {elapsed:.1f} s, {len(failures)} failing operations")
    assert not failures, "\n\n".join(failures)
