"""The navigation bar: apps add entries here as they arrive; each says who sees it."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from gaizao.accounts.scoping import ANONYMOUS_SCOPE, Scope


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    visible: callable  # (Scope) -> bool


def _signed_in(scope: Scope) -> bool:
    return scope.user_id is not None


def _has_region(scope: Scope) -> bool:
    return scope.is_superuser or bool(scope.prefixes("view"))


NAV_ENTRIES: list[NavEntry] = [
    NavEntry(_("Home"), "home", _signed_in),
    NavEntry(_("Regions"), "regions:list", _has_region),
    NavEntry(_("Plans"), "plans:list", _has_region),
    NavEntry(_("Dashboard"), "dashboard:region", _has_region),
    NavEntry(_("Estates"), "estates:list", _has_region),
    NavEntry(_("Estate map"), "estates:map", _has_region),
    NavEntry(_("Census import"), "census:upload", lambda s: s.is_superuser or bool(s.prefixes("change"))),
    NavEntry(_("Jobs"), "jobs:list", _signed_in),
    NavEntry(_("Audit log"), "audit:list", lambda s: s.is_province_admin),
    NavEntry(_("API"), "api-docs", _signed_in),
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
