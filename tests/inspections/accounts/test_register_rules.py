"""The rules for schools and accounts live in the services (the API and the pages only call them): who may
register or change what, an office never above its own role nor outside its jurisdiction, one password rule."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.scope import principal_for
from inspections.audit.models import AuditRecord
from inspections.errors import Forbidden, ValidationFailed
from inspections.org import service as org
from inspections.org.enums import Locale, SchoolKind
from tests.factories import make_world


@pytest.fixture
def world(session):
    return make_world(session)


def _p(session, user):
    return principal_for(session, user)


def test_only_offices_and_admins_create_accounts_and_only_admins_make_admins(session, world):
    assert accounts.creatable_roles(_p(session, world.office_a1)) == [Role.office, Role.inspector, Role.school]
    assert Role.admin in accounts.creatable_roles(_p(session, world.admin))
    assert accounts.creatable_roles(_p(session, world.inspector_a1)) == []
    for actor, role in ((world.office_a, Role.admin), (world.inspector_a1, Role.inspector),
                        (world.school_user_a1, Role.school)):
        with pytest.raises(Forbidden):
            accounts.create_user(session, username=f"x-{actor.username}", password="password-123", role=role,
                                 jurisdiction_id=world.county_a1.id, actor=_p(session, actor))
    with pytest.raises(accounts.AccountError) as err:
        accounts.create_user(session, username="x-far", password="password-123", role=Role.inspector,
                             jurisdiction_id=world.county_b1.id, actor=_p(session, world.office_a))
    assert err.value.fields == {"jurisdiction_id": ["is not a jurisdiction in your scope"]}
    assert isinstance(err.value, ValidationFailed)  # a 422 wherever it is raised
    assert session.scalar(select(AuditRecord).where(AuditRecord.entity == "user")) is None


def test_change_user_refuses_admins_and_shared_accounts_and_short_passwords(session, world):
    office = _p(session, world.office_a)
    with pytest.raises(Forbidden):
        accounts.change_user(session, world.admin, actor=office, display_name="x")
    with pytest.raises(Forbidden):
        accounts.change_user(session, world.inspector_a1, actor=_p(session, world.inspector_a1), active=False)
    with pytest.raises(accounts.AccountError) as err:
        accounts.change_user(session, world.inspector_a1, actor=office, password="short")
    assert "password" in err.value.fields
    with pytest.raises(accounts.AccountError):
        accounts.set_password(session, world.inspector_a1, "short")
    accounts.change_user(session, world.inspector_a1, actor=office, display_name=" 李督学 ", active=False)
    assert (world.inspector_a1.display_name, world.inspector_a1.active) == ("李督学", False)
    rec = session.scalar(select(AuditRecord).where(AuditRecord.entity_id == str(world.inspector_a1.id)))
    assert (rec.action, rec.actor_id, rec.data) == ("update", world.office_a.id,
                                                    {"display_name": "李督学", "active": "False"})


def test_schools_are_registered_and_changed_only_in_a_managed_county(session, world):
    office = _p(session, world.office_a1)
    with pytest.raises(ValidationFailed) as err:
        org.county_for_write(session, office, world.county_a2.id)
    assert err.value.fields == {"jurisdiction_id": ["is not a jurisdiction in your scope"]}
    with pytest.raises(Forbidden):
        org.create_school(session, county=world.county_b1, actor=office, code="R-1", name="越界", kind=SchoolKind.primary,
                          locale=Locale.rural)
    with pytest.raises(Forbidden):
        org.update_school(session, world.school_b1, actor=office, name="越界")
    with pytest.raises(Forbidden):
        org.update_school(session, world.school_a1, county=world.county_a2, actor=office)
    school = org.create_school(session, county=org.county_for_write(session, office, world.county_a1.id),
                               actor=office, code="R-2", name="新校", kind=SchoolKind.primary, locale=Locale.rural)
    org.update_school(session, school, actor=office, name="新校二")
    recs = session.scalars(select(AuditRecord).where(AuditRecord.entity_id == str(school.id))
                           .order_by(AuditRecord.at, AuditRecord.id)).all()
    assert [(r.action, r.data) for r in recs] == [("create", {"code": "R-2"}), ("update", {"name": "新校二"})]
    assert world.school_b1.name != "越界"


def test_nobody_deactivates_their_own_account_but_may_change_the_rest(session, world):
    for me in (world.office_a1, world.admin):
        with pytest.raises(accounts.AccountError) as err:
            accounts.change_user(session, me, actor=_p(session, me), active=False)
        assert err.value.fields == {"active": ["you cannot deactivate your own account"]}
        with pytest.raises(accounts.AccountError):
            accounts.check_change(session, me, actor=_p(session, me), active=False)
        assert me.active
    accounts.change_user(session, world.office_a1, actor=_p(session, world.office_a1), display_name="我", active=True)
    accounts.check_change(session, world.inspector_a1, actor=_p(session, world.office_a1), active=False)
    assert world.inspector_a1.active  # check_change writes nothing
    with pytest.raises(Forbidden):
        accounts.check_change(session, world.admin, actor=_p(session, world.office_a), active=False)


def test_an_inspector_without_an_area_keeps_at_least_one_school(session, world):
    office = _p(session, world.office_a1)
    insp = accounts.create_user(session, username="no-area", password="password-123", role=Role.inspector,
                                assigned_school_ids=[world.school_a1.id], actor=office)
    for call in (lambda: accounts.change_user(session, insp, actor=office, assigned_school_ids=[]),
                 lambda: accounts.set_assignments(session, user=insp, school_ids=[])):
        with pytest.raises(accounts.AccountError) as err:
            call()
        assert err.value.fields == {"assigned_school_ids": ["an inspector needs a jurisdiction or assigned schools"]}
    assert accounts.assigned_school_ids(session, insp.id) == [world.school_a1.id]
    accounts.change_user(session, world.inspector_a1, actor=office, assigned_school_ids=[])  # it has an area


def test_usernames_and_school_codes_are_unique_whatever_their_case(session, world):
    office = _p(session, world.office_a1)
    with pytest.raises(accounts.AccountError) as err:
        accounts.create_user(session, username=world.inspector_a1.username.upper(), password="password-123",
                             role=Role.inspector, jurisdiction_id=world.county_a1.id, actor=office)
    assert err.value.fields == {"username": ["is already taken"]}
    county = world.county_a1
    org.create_school(session, county=county, code="MDX-J01", name="一", kind=SchoolKind.primary, locale=Locale.rural)
    with pytest.raises(ValidationFailed) as err:
        org.create_school(session, county=county, code="mdx-j01", name="二", kind=SchoolKind.primary,
                          locale=Locale.rural)
    assert err.value.fields == {"code": ["is already used"]}
    with pytest.raises(ValidationFailed):
        org.update_school(session, world.school_a1, code="Mdx-J01")
    school = world.school_a1
    org.update_school(session, school, code=school.code.swapcase())  # its own code in another case is its own
    assert accounts.get_by_username(session, world.inspector_a1.username.upper()) is None  # sign-in unchanged


@pytest.mark.parametrize("password,message", [(" " * 8, "must not be only spaces"), ("\t" * 9, "must not be only spaces"),
                                               ("NEW-USER", "must not be the username"),
                                               ("new-user", "must not be the username"),
                                               ("\u200b" * 8, "must not be only spaces"),
                                               ("\u3000\ufeff" * 4, "must not be only spaces"),
                                               ("\uff4e\uff45\uff57-\uff55\uff53\uff45\uff52", "must not be the username")])
def test_blank_passwords_and_the_username_are_no_passwords(session, world, password, message):
    office = _p(session, world.office_a1)
    with pytest.raises(accounts.AccountError) as err:
        accounts.create_user(session, username="new-user", password=password, role=Role.inspector,
                             jurisdiction_id=world.county_a1.id, actor=office)
    assert err.value.fields == {"password": [message]}
    user = accounts.create_user(session, username="new-user", password="password-123", role=Role.inspector,
                                jurisdiction_id=world.county_a1.id, actor=office)
    with pytest.raises(accounts.AccountError):
        accounts.change_user(session, user, actor=office, password=password)
    with pytest.raises(accounts.AccountError):
        accounts.set_password(session, user, password)
    assert accounts.check_password(user, "password-123")


def test_a_school_position_is_both_coordinates_or_neither(session, world):
    from decimal import Decimal
    county = world.county_a1
    with pytest.raises(ValidationFailed) as err:
        org.create_school(session, county=county, code="P-1", name="一", kind=SchoolKind.primary, locale=Locale.rural,
                          latitude=Decimal("28.1"))
    assert err.value.fields == {"longitude": ["enter both latitude and longitude, or neither"]}
    with pytest.raises(ValidationFailed) as err:
        org.create_school(session, county=county, code="P-1", name="一", kind=SchoolKind.primary, locale=Locale.rural,
                          longitude=Decimal("112.1"))
    assert err.value.fields == {"latitude": ["enter both latitude and longitude, or neither"]}
    school = org.create_school(session, county=county, code="P-1", name="一", kind=SchoolKind.primary,
                               locale=Locale.rural, latitude=Decimal("28.1"), longitude=Decimal("112.1"))
    with pytest.raises(ValidationFailed):
        org.update_school(session, school, latitude=None)
    org.update_school(session, school, latitude=None, longitude=None)
    org.update_school(session, school, latitude=Decimal("28.2"), longitude=Decimal("112.2"))
    org.update_school(session, school, latitude=Decimal("28.3"))  # the other one is kept
    assert (school.latitude, school.longitude) == (Decimal("28.3"), Decimal("112.2"))


@pytest.mark.parametrize("kind", ["username", "school code"])
def test_two_requests_at_once_cannot_make_names_differing_only_in_case(app, session, world, kind):
    """The services' check reads only committed rows: a second request creating the same name in another case
    while the first has not committed passes it. The database's folded unique index makes it wait for the
    first and then refuses it (IntegrityError: a 409 in the API), so only the first is kept."""
    import threading

    from sqlalchemy import func
    from sqlalchemy.exc import IntegrityError

    from inspections.accounts.models import User
    from inspections.db import new_session
    from inspections.org.models import School
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's write transactions already run one at a time")

    def make(s, name):
        if kind == "username":
            accounts.create_user(s, username=name, password="password-123", role=Role.inspector,
                                 jurisdiction_id=world.county_a1.id)
        else:
            org.create_school(s, county=s.merge(world.county_a1), code=name, name=name, kind=SchoolKind.primary,
                              locale=Locale.rural)
        s.flush()

    make(session, "racer-01")  # written, not committed
    outcome = {}

    def second():
        with new_session() as s:
            try:
                make(s, "RACER-01")
                s.commit()
                outcome["second"] = "committed"
            except IntegrityError:
                outcome["second"] = "refused"
    t = threading.Thread(target=second)
    t.start()
    t.join(0.5)
    assert t.is_alive()  # waits on the index for the first transaction
    session.commit()
    t.join(10)
    assert outcome == {"second": "refused"}
    column = User.username if kind == "username" else School.code
    assert session.scalar(select(func.count()).where(func.lower(column) == "racer-01")) == 1
