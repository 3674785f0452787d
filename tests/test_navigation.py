"""The main menu shows each person only entries whose page answers them, and the home page says what the
site is for people without a region (residents, project parties)."""

import re

import pytest
from django.urls import reverse

from gaizao.accounts.scoping import Role
from gaizao.core.models import Job
from gaizao.regions.models import Region

from .conftest import make_user, page_client

ROLES = list(Role.values)


def menu(client) -> dict[str, str]:
    """{label: url} of the main menu on the home page."""
    html = client.get(reverse("home")).content.decode()
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    return {label: url for url, label in re.findall(r'href="([^"]+)"[^>]*>([^<]+)<', nav)}


@pytest.fixture
def users(zhejiang):
    return {role: make_user(role) for role in ROLES}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_menu_entry_opens_for_the_person_who_sees_it(users, role):
    client = page_client(users[role])
    entries = menu(client)
    assert "首页" in entries
    answers = {label: client.get(url).status_code for label, url in entries.items()}
    assert {label: status for label, status in answers.items() if status != 200} == {}


@pytest.mark.django_db
def test_who_sees_what(users):
    seen = {role: set(menu(page_client(user))) for role, user in users.items()}
    # QA: street and community officials saw 数据看板, which answers them 404
    assert "数据看板" not in seen[Role.STREET_OFFICIAL] and "数据看板" not in seen[Role.COMMUNITY_WORKER]
    assert all("数据看板" in seen[r] for r in (Role.PROVINCE_ADMIN, Role.CITY_OFFICIAL, Role.COUNTY_OFFICIAL,
                                             Role.DEPARTMENT_REVIEWER))
    # residents and project parties: no job list of nobody's jobs, no API for residents
    assert "后台任务" not in seen[Role.RESIDENT] and "后台任务" not in seen[Role.PROJECT_PARTY]
    assert "接口" not in seen[Role.RESIDENT] and "接口" in seen[Role.PROJECT_PARTY]
    assert all("后台任务" in seen[r] and "接口" in seen[r] for r in (Role.STREET_OFFICIAL, Role.COUNTY_OFFICIAL))


@pytest.mark.django_db
def test_the_job_list_appears_once_someone_has_started_a_job(users):
    builder = users[Role.PROJECT_PARTY]
    Job.objects.create(kind="regions.reload", region=Region.objects.get(code="33"), created_by=builder)
    assert "后台任务" in menu(page_client(builder))


@pytest.mark.django_db
@pytest.mark.parametrize("role, sentence", [
    (Role.RESIDENT, "您已登记为石灰桥社区的居民"),
    (Role.PROJECT_PARTY, "您以参建单位身份登记于测试施工单位"),
])
def test_residents_and_project_parties_are_told_what_the_site_is_for_them(users, role, sentence):
    html = page_client(users[role]).get(reverse("home")).content.decode()
    card = html.split('data-testid="home-place"', 1)[1].split("</section>", 1)[0]
    assert sentence in card and "尚未分配管辖区域" not in card and "管辖区域" not in card
    # their community is named, not linked to a region page that would answer them 404
    assert 'href="/regions/' not in html


@pytest.mark.django_db
def test_officials_still_see_their_regions(users):
    html = page_client(users[Role.STREET_OFFICIAL]).get(reverse("home")).content.decode()
    card = html.split('data-testid="home-place"', 1)[1].split("</section>", 1)[0]
    assert "您的管辖区域" in card and 'href="/regions/330106004/"' in card
