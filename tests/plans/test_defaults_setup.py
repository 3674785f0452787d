"""Default rule rows and the default plan period are made by an explicit, audited set-up step (after the
region tree is loaded, and by the demo data); pages and the API only read them, and without them read the
built-in defaults."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from gaizao.core.errors import ErrorCode, PermissionDeniedError, ServiceError
from gaizao.core.models import AuditAction, AuditEntry
from gaizao.estates.models import EligibilityPolicy, PriorityWeights
from gaizao.plans import services
from gaizao.plans.models import PlanPeriod, TargetRule, UnitCosts
from gaizao.regions.setup import defaults_setup

from ..conftest import api_client_for as _api
from ..conftest import page_client as _page

DEFAULT_ROWS = (TargetRule, UnitCosts, PlanPeriod, EligibilityPolicy, PriorityWeights)


def _fresh() -> None:
    """The database as after migrate and load-regions, before any set-up made default rows."""
    for model in DEFAULT_ROWS:
        model.objects.all().delete()


def _counts() -> dict:
    return {m.__name__: m.objects.count() for m in (*DEFAULT_ROWS, AuditEntry)}


PROVINCE_PAGES = [
    ("plans:list", None, {}), ("plans:rollup", None, {}), ("plans:rollup", None, {"region": "3301"}),
    ("plans:rules", None, {}), ("plans:rules", None, {"region": "330106"}), ("plans:budgets", None, {}),
    ("plans:region-optimise", None, {}), ("plans:export", None, {}), ("progress:list", None, {"month": "2020-03"}),
    ("dashboard:region", None, {}), ("dashboard:region", None, {"region": "330106"}),
    ("estates:rules", None, {}), ("estates:rules-edit", ["33"], {}), ("estates:rules-edit", ["330106"], {}),
]
PROVINCE_APIS = [("api:plan-list", {}), ("api:target-list", {}), ("api:progress-rollup", {}),
                 ("api:dashboard", {}), ("api:dashboard", {"region": "330106"})]
COUNTY_PAGES = [("plans:list", None, {}), ("plans:rules", None, {"region": "330106"}), ("dashboard:region", None, {}),
                ("plans:rollup", None, {}), ("estates:rules", None, {})]


@pytest.mark.django_db
def test_gets_on_a_fresh_database_write_nothing_and_answer(people):
    page, api, county = _page(people["province"]), _api(people["province"]), _page(people["county"])
    _fresh()
    before = _counts()
    for name, args, query in PROVINCE_PAGES:
        r = page.get(reverse(name, args=args), query)
        assert r.status_code == 200, (name, query, r.status_code)
    for name, query in PROVINCE_APIS:
        r = api.get(reverse(name), query)
        assert r.status_code == 200, (name, query, r.status_code)
    for name, args, query in COUNTY_PAGES:
        r = county.get(reverse(name, args=args), query)
        assert r.status_code == 200, (name, query, r.status_code)
    assert _counts() == before
    # the defaults are read all the same, and the missing period is said in words
    assert api.get(reverse("api:target-list"), {"region": "330106"}).json()["period"] == "2020-2022"
    r = county.get(reverse("plans:list"))
    assert 'data-testid="no-period"' in r.content.decode()
    assert 'data-testid="no-period"' in page.get(reverse("plans:rules")).content.decode()
    # the period the pages offer (in their selector and links) before set-up is taken back as the default
    for name, args, query in [*PROVINCE_PAGES, ("plans:budgets", None, {})]:
        r = page.get(reverse(name, args=args), {**query, "period": "2020-2022"})
        assert r.status_code == 200, (name, query, r.status_code)
    for name, query in PROVINCE_APIS:
        assert api.get(reverse(name), {**query, "period": "2020-2022"}).status_code == 200, name
    assert page.get(reverse("plans:list"), {"period": "2019-2021"}).status_code == 400
    assert _counts() == before


@pytest.mark.django_db
def test_defaults_setup_makes_each_row_once_audited_as_the_system(zhejiang):
    _fresh()
    audit_before = AuditEntry.objects.count()
    made = defaults_setup(actor=None, cause="test set-up")
    assert sorted(type(m).__name__ for m in made) == sorted(m.__name__ for m in DEFAULT_ROWS)
    assert TargetRule.objects.get().region.code == "33" and UnitCosts.objects.get().region.code == "33"
    assert EligibilityPolicy.objects.get().region.code == "33" and PriorityWeights.objects.get().region.code == "33"
    period = PlanPeriod.objects.get()
    assert (period.start_year, period.end_year, period.is_default) == (2020, 2022, True)
    entries = list(AuditEntry.objects.order_by("pk")[audit_before:])
    assert len(entries) == 5
    for entry in entries:
        assert entry.actor is None and entry.actor_name == "system"
        assert entry.action == AuditAction.CREATE and entry.before is None and entry.after
        assert entry.verb in ("plans.defaults_setup", "estates.rules_defaults_setup")
        assert entry.cause == "test set-up" and entry.region_code == "33"
    assert {e.object_id for e in entries if e.object_type.model == "unitcosts"} == {
        str(UnitCosts.objects.get().pk)}
    assert entries[0].after["cutoff_year"] == 1999  # the model's default, as the rules read it without the row
    # idempotent: nothing more, nothing audited
    assert defaults_setup(actor=None) == []
    assert AuditEntry.objects.count() == audit_before + 5


@pytest.mark.django_db
def test_load_regions_sets_up_the_defaults(zhejiang):
    _fresh()
    last = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    out = io.StringIO()
    call_command("load_regions", stdout=out)
    assert "defaults: 5 created" in out.getvalue()
    assert all(model.objects.exists() for model in DEFAULT_ROWS)
    made = AuditEntry.objects.filter(pk__gt=last, cause="gaizao load-regions", action=AuditAction.CREATE)
    assert made.filter(verb="plans.defaults_setup").count() == 3
    assert made.filter(verb="estates.rules_defaults_setup").count() == 2


@pytest.mark.django_db
def test_only_the_province_office_sets_up_defaults(people):
    _fresh()
    with pytest.raises(PermissionDeniedError):
        defaults_setup(actor=people["county"])
    assert not any(model.objects.exists() for model in DEFAULT_ROWS)
    assert len(defaults_setup(actor=people["province"])) == 5
    assert AuditEntry.objects.filter(verb="plans.defaults_setup", actor=people["province"]).count() == 3
    assert AuditEntry.objects.filter(verb="estates.rules_defaults_setup", actor=people["province"]).count() == 2


@pytest.mark.django_db
@translation.override("en")
def test_a_plan_needs_a_stored_period(people, xihu):
    _fresh()
    with pytest.raises(ServiceError) as caught:
        services.plan_create(actor=people["county"], county=xihu, period=services.period_default())
    assert caught.value.code == ErrorCode.PLAN_PERIOD_INVALID
    assert "No plan period has been set up yet" in caught.value.message
    r = _page(people["county"]).post(reverse("plans:create"), {"county": "330106"}, follow=True)
    assert r.status_code == 200 and "尚未设置计划期" in r.content.decode()  # (the page speaks Chinese)
    assert not PlanPeriod.objects.exists()
