"""Pull sends the template versions that apply to the caller's jurisdictions, not every county's."""
from __future__ import annotations

from sqlalchemy import select

from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate
from tests.factories import make_world, token_for
from tests.sync.helpers import pull_all


def _overlay(session, county, national):
    tpl = templates.create_template(session, code=f"county-{county.code}", name=county.name, jurisdiction=county,
                                    parent=national)
    v = templates.create_version(session, tpl, overlay={"set_thresholds": {"R1": {"primary": "4.5"}}}, effective_from=None)
    templates.publish(session, v)
    return str(v.id)


def _template_versions(client, headers) -> set[str]:
    changes, _ = pull_all(client, headers)
    return {c["id"] for c in changes if c["entity"] == "template_version"}


def test_pull_sends_national_and_own_jurisdiction_templates_only(client, session):
    w = make_world(session)
    national = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.jurisdiction_id.is_(None)))
    national_versions = {str(v.id) for v in national.versions}
    a1, b1 = _overlay(session, w.county_a1, national), _overlay(session, w.county_b1, national)
    session.commit()
    # County A1's inspector and its school: national + A1 (their ancestors), never B1.
    assert _template_versions(client, token_for(session, w.inspector_a1)) == national_versions | {a1}
    assert _template_versions(client, token_for(session, w.school_user_a1)) == national_versions | {a1}
    # City A's office oversees its counties: A1 too, not B1 (another city).
    assert _template_versions(client, token_for(session, w.office_a)) == national_versions | {a1}
    assert _template_versions(client, token_for(session, w.admin)) >= national_versions | {a1, b1}
