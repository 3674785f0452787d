"""The home page's "Needs your attention": each app's items, scoped to the user and gone once acted on."""

import re

import pytest
from django.urls import reverse

from gaizao.estates.services import estate_admit
from gaizao.plans import services

from ..conftest import page_client
from ..estates.factories import community_in, make_estate


def attention(user) -> dict[str, list[str]]:
    """The items on the user's home page: kind -> [text of each item]."""
    html = page_client(user).get(reverse("home")).content.decode()
    items: dict[str, list[str]] = {}
    for kind, text in re.findall(r'<li data-attention="([a-z_]+)">.*?<a href="[^"]*">([^<]*)</a>', html):
        items.setdefault(kind, []).append(text)
    return items


@pytest.mark.django_db
def test_eligible_surveyed_estates_wait_for_a_pool_decision_in_their_own_county_only(people):
    xihu = [make_estate("330106004053", name=f"西湖待定{i}") for i in range(3)]
    make_estate("330106004053", name="太新的小区", built_year=2012)  # ineligible: nothing to decide
    make_estate(community_in("330105"), name="拱墅待定")

    assert re.findall(r"\d+", attention(people["county"])["estates_awaiting_pool"][0]) == ["3"]
    assert re.findall(r"\d+", attention(people["sibling_county"])["estates_awaiting_pool"][0]) == ["1"]
    assert re.findall(r"\d+", attention(people["city"])["estates_awaiting_pool"][0]) == ["4"]
    assert "estates_awaiting_pool" not in attention(people["reviewer"])  # may look, may not decide

    estate_admit(actor=people["county"], estate=xihu[0], year=2026)
    assert re.findall(r"\d+", attention(people["county"])["estates_awaiting_pool"][0]) == ["2"]
    for estate in xihu[1:]:
        estate_admit(actor=people["county"], estate=estate, year=2026)
    assert "estates_awaiting_pool" not in attention(people["county"])


@pytest.mark.django_db
def test_the_link_lists_exactly_the_estates_waiting(people):
    make_estate("330106004053", name="西湖待定")
    make_estate("330106004053", name="太新的小区", built_year=2012)
    html = page_client(people["county"]).get(reverse("home")).content.decode()
    url = re.search(r'<li data-attention="estates_awaiting_pool">.*?<a href="([^"]*)"', html)[1].replace("&amp;", "&")
    listed = page_client(people["county"]).get(url).content.decode()
    assert "西湖待定" in listed and "太新的小区" not in listed


@pytest.mark.django_db
def test_a_plan_waits_for_whoever_holds_its_next_step(people, draft_plan):
    county_items = attention(people["county"])["plan_awaiting_step"]
    assert len(county_items) == 1 and "v1" in county_items[0]
    assert "plan_awaiting_step" not in attention(people["city"])

    services.plan_transition(actor=people["county"], plan=draft_plan, step="submit")
    assert "plan_awaiting_step" not in attention(people["county"])
    assert len(attention(people["city"])["plan_awaiting_step"]) == 1
    assert "plan_awaiting_step" not in attention(people["other_city"])
    assert "plan_awaiting_step" not in attention(people["province"])

    services.plan_transition(actor=people["city"], plan=draft_plan, step="city_approve")
    assert "plan_awaiting_step" not in attention(people["city"])
    assert len(attention(people["province"])["plan_awaiting_step"]) == 1

    services.plan_transition(actor=people["province"], plan=draft_plan, step="approve")
    assert all("plan_awaiting_step" not in attention(people[who]) for who in ("county", "city", "province"))
