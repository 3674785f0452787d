import os

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from gaizao.accounts.models import Department, Organisation, OrganisationKind, User
from gaizao.accounts.scoping import Role
from gaizao.accounts.services import membership_grant
from gaizao.regions.models import Region

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made
# by test code around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "test-pass-1234"

# A place for each role, and a sibling and a parent of it, on real regions.
ROLE_PLACES = {
    # role: (own region code, sibling region code, parent region code)
    Role.PROVINCE_ADMIN: ("33", None, None),
    Role.CITY_OFFICIAL: ("3301", "3302", "33"),
    Role.COUNTY_OFFICIAL: ("330106", "330105", "3301"),
    Role.STREET_OFFICIAL: ("330106004", "330106002", "330106"),
    Role.COMMUNITY_WORKER: ("330106004053", "330106004055", "330106004"),
    Role.DEPARTMENT_REVIEWER: ("330106", "330105", "3301"),
    Role.PROJECT_PARTY: (None, None, None),
    Role.RESIDENT: (None, None, None),
}


def pytest_collection_modifyitems(items):
    # Browser tests flush the database (live server); run them last.
    items.sort(key=lambda item: 1 if item.get_closest_marker("browser") else 0)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test starts with empty caches: the estate list's status counts are cached under a data version
    read at most every 2 s, and the rolled-back estates of an earlier test can have the same ids and times."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("load_regions", verbosity=0, stdout=open(os.devnull, "w"))


@pytest.fixture
def zhejiang(db):
    """The real region tree (loaded once per session; reloaded after a flush)."""
    if not Region.objects.filter(code="33").exists():
        call_command("load_regions", stdout=open(os.devnull, "w"))
    return Region.objects.get(code="33")


def page_client(user) -> Client:
    """A browser-less client logged in as `user` (pages)."""
    client = Client()
    client.force_login(user)
    return client


def api_client_for(user) -> APIClient:
    """An API client authenticated as `user`."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def make_user(role: str, username: str | None = None, region_code: str | None = None) -> User:
    username = username or f"u-{role}"
    user = User.objects.create_user(username=username, password=PASSWORD)
    own = region_code or ROLE_PLACES[role][0]
    if role == Role.DEPARTMENT_REVIEWER:
        region = Region.objects.get(code=own)
        org, _ = Organisation.objects.get_or_create(
            name=f"{region.name}发改局", region=region,
            defaults={"kind": OrganisationKind.DEPARTMENT, "department": Department.DEVELOPMENT_REFORM})
        membership_grant(actor=None, user=user, role=role, organisation=org)
    elif role == Role.PROJECT_PARTY:
        org, _ = Organisation.objects.get_or_create(name="测试施工单位", kind=OrganisationKind.COMPANY)
        membership_grant(actor=None, user=user, role=role, organisation=org)
    elif role == Role.RESIDENT:
        membership_grant(actor=None, user=user, role=role, region=Region.objects.get(code="330106004053"))
    else:
        membership_grant(actor=None, user=user, role=role, region=Region.objects.get(code=own))
    return user


@pytest.fixture
def user_for(zhejiang):
    created = {}

    def _user(role: str) -> User:
        if role not in created:
            created[role] = make_user(role)
        return created[role]

    return _user


@pytest.fixture
def api_client():
    return APIClient()


BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def sign_in_through_the_page(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base_url}/")
