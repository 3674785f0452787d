"""Every link the plans pages show a role opens for that role (no link that leads to a 404), and the
pages behind the hidden ones are still refused (no permission was widened)."""

import re

import pytest
from django.urls import reverse

from gaizao.accounts.scoping import Role

from ..conftest import make_user
from ..conftest import page_client as client_for

REGION_PAGES = ["dashboard:region", "plans:rollup", "progress:list", "plans:budgets", "plans:rules",
                "plans:region-optimise", "plans:export"]


def _links(html: str) -> list[str]:
    nav = re.search(r'<nav class="subnav".*?</nav>', html, re.S).group(0)
    body_links = re.findall(r'href="(/(?:plans|dashboard|progress)/[^"]*)"', html.split("</nav>", 2)[-1])
    return re.findall(r'href="([^"]+)"', nav) + body_links


@pytest.mark.django_db
@pytest.mark.parametrize("role,place", [
    (Role.STREET_OFFICIAL, "330106004"), (Role.COMMUNITY_WORKER, "330106004053"),
    (Role.COUNTY_OFFICIAL, "330106"), (Role.CITY_OFFICIAL, "3301"), (Role.PROVINCE_ADMIN, "33"),
    (Role.DEPARTMENT_REVIEWER, "330106"),
])
def test_every_plans_link_shown_opens(zhejiang, role, place, draft_plan):
    user = make_user(role, f"links-{role}", place)
    client = client_for(user)
    html = client.get(reverse("plans:list")).content.decode()
    links = _links(html)
    assert reverse("plans:list") in links
    for url in links:
        r = client.get(url.replace("&amp;", "&"))
        assert r.status_code == 200, (role, url, r.status_code)
    shown = {name for name in REGION_PAGES if reverse(name) in " ".join(links)}
    if role in (Role.STREET_OFFICIAL, Role.COMMUNITY_WORKER):
        # nothing of the county's to show them: the links are hidden, and the pages still refuse them
        assert shown == set()
        assert "xlsx" not in html
        for name in REGION_PAGES:
            assert client.get(reverse(name)).status_code == 404, name
    else:
        assert shown == set(REGION_PAGES)
