"""`gaizao demo-data` gives 西湖区 and 海曙区 a pool, budgets, a draft plan and monthly progress (idempotent)."""

import datetime

import pytest

from gaizao.accounts.scoping import Role
from gaizao.estates.generator import demo_estates_ensure
from gaizao.plans import selectors
from gaizao.plans.demo import demo_plans_ensure
from gaizao.plans.models import ActionPlan, PlanBudget, PlanStatus, ProgressReport
from gaizao.regions.models import Region

from ..conftest import make_user


@pytest.mark.django_db
def test_demo_plans(zhejiang):
    demo_estates_ensure("small")
    first = demo_plans_ensure()
    again = demo_plans_ensure()
    assert first["plans"] == 2 and first["items"] > 10 and first["reports"] == 11
    assert (again["budgets"], again["reports"], again["items"]) == (0, 0, first["items"])
    for code in ("330106", "330203"):
        plan = ActionPlan.objects.get(county__code=code)
        assert plan.status == PlanStatus.DRAFT and plan.items.exists()
        assert PlanBudget.objects.filter(county__code=code).count() == 3
    assert ProgressReport.objects.filter(county__code="330203").count() == 5
    admin = make_user(Role.PROVINCE_ADMIN, "demo-admin", "33")
    province = Region.objects.get(code="33")
    flags = {(f["code"], f["flag"]) for f in selectors.reporting_flags(admin, province, datetime.date(2020, 6, 1))}
    assert ("330203", "missing") in flags
    flags = {(f["code"], f["flag"]) for f in selectors.reporting_flags(admin, province, datetime.date(2020, 5, 1))}
    assert flags == {("330106", "late")}
    d = selectors.dashboard(admin, province, selectors.period_from_param(None), datetime.date(2020, 6, 1))
    assert d["rollup"].total.plans == 2 and d["progress"]["total"].values["annual_started"] > 0
    result = selectors.run_optimiser(Region.objects.get(code="330106"), selectors.period_from_param(None),
                                     time_limit=20)
    assert result["feasible"] and result["reasons"] == []
