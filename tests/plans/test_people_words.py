"""What the plans pages and the audit pages say of plans read as words, the same on both: who took a step
(系统 for the system), amounts in 万元, the optimiser's runs."""

import pytest
from django.urls import reverse

from gaizao.plans import services

from ..conftest import page_client as client_for
from .conftest import pool_estate


@pytest.mark.django_db
def test_plan_history_names_the_system_as_the_audit_pages_do(people, xihu, period):
    plan = services.plan_create(actor=None, county=xihu, period=period)  # the demo data, the command line
    services.plan_item_add(actor=people["county"], plan=plan, estate=pool_estate("330106"), year=2020)
    services.plan_transition(actor=people["county"], plan=plan, step="submit")
    html = client_for(people["county"]).get(reverse("plans:detail", args=[plan.pk])).content.decode()
    events = html.split('data-testid="plan-events"', 1)[1].split("</ul>", 1)[0]
    assert " · 系统 · " in events and "system" not in events
    assert " · p-xihu · " in events  # a person by their user name, as on /audit/
    audit = client_for(people["province"]).get(
        reverse("audit:history", args=["plans.actionplan", plan.pk])).content.decode()
    assert "系统" in audit


@pytest.mark.django_db
def test_an_optimiser_run_by_the_system_says_so(people, xihu, period):
    services.optimisation_run_save(actor=None, region=xihu, period=period, params={}, result={
        "objective": 514540.8937, "greedy_objective": 500000.2, "status": "optimal", "feasible": True,
        "candidates": 24})
    html = client_for(people["county"]).get(reverse("plans:region-optimise"), {"region": "330106"}).content.decode()
    summary = html.split('data-testid="run-summary"', 1)[1].split("</p>", 1)[0]
    assert "系统" in summary and "system" not in summary
