"""The navigation bar: apps add entries here as they arrive; each says who sees it, and an entry is shown
only to people its page answers (tests/test_navigation.py opens every entry as every role)."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from gaizao.accounts.scoping import ANONYMOUS_SCOPE, Role, Scope


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    visible: callable  # (Scope) -> bool


def _signed_in(scope: Scope) -> bool:
    return scope.user_id is not None


def _has_region(scope: Scope) -> bool:
    return scope.reaches_a_region()


def _has_county_or_above(scope: Scope) -> bool:
    """The dashboards cover the province, a city or a county the user may see (plans.selectors.home_region):
    a street or community official's dashboard link would answer 404."""
    return scope.is_province_admin or any(len(code) <= 6 for code in scope.prefixes("view"))


def _has_jobs(scope: Scope) -> bool:
    """Officials see the jobs of their regions; anyone else only the jobs they started (if any)."""
    if _has_region(scope):
        return True
    if scope.user_id is None:
        return False
    from .models import Job

    return Job.objects.filter(created_by_id=scope.user_id).exists()


def _uses_api(scope: Scope) -> bool:
    """Everyone signed in but residents, who use the site on a phone and have nothing to script."""
    return _signed_in(scope) and (scope.is_superuser or bool(scope.roles - {Role.RESIDENT}))


NAV_ENTRIES: list[NavEntry] = [
    NavEntry(_("Home"), "home", _signed_in),
    NavEntry(_("Regions"), "regions:list", _has_region),
    NavEntry(_("Plans"), "plans:list", _has_region),
    NavEntry(_("Dashboard"), "dashboard:region", _has_county_or_above),
    NavEntry(_("Estates"), "estates:list", _has_region),
    NavEntry(_("Estate map"), "estates:map", _has_region),
    NavEntry(_("Census import"), "census:upload", lambda s: s.reaches_a_region("change")),
    NavEntry(_("Jobs"), "jobs:list", _has_jobs),
    NavEntry(_("Audit log"), "audit:list", lambda s: s.is_province_admin),
    NavEntry(_("API"), "api-docs", _uses_api),
    NavEntry(_("Administration"), "admin:index", lambda s: s.is_province_admin),
]


def navigation(request) -> dict:
    scope = getattr(request, "scope", ANONYMOUS_SCOPE)
    current = request.resolver_match.view_name if getattr(request, "resolver_match", None) else ""
    visible = [entry for entry in NAV_ENTRIES if entry.visible(scope)]
    # The entry for this very page is active; failing that, the first entry of the same app.
    active = next((e for e in visible if e.url_name == current), None)
    if active is None and ":" in current:
        active = next((e for e in visible if e.url_name.split(":")[0] == current.split(":")[0]), None)
    items = [{"label": e.label, "url": reverse(e.url_name), "active": e is active} for e in visible]
    return {"nav_items": items, "scope": scope}
