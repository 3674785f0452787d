"""Reads of the region tree that pages share. Everything scoped goes through `restrict`."""

from __future__ import annotations

from django.db.models import Q

from gaizao.accounts.scoping import Action, restrict, scope_for

from .models import CODE_LENGTHS, LEVEL_DEPTH, Region, RegionLevel

DEPTH_BY_CODE_LENGTH = {length: depth for depth, length in enumerate(CODE_LENGTHS)}
LEVELS_SHOWN = 3  # the user's own level and the two below it
INDENT = "\u00a0" * 4  # non-breaking spaces: a <select> keeps them
CODE_MAX_LENGTH = Region._meta.get_field("code").max_length


def region_choices_for(*, user, selected: str = "", action: str = Action.VIEW) -> list[tuple[str, str]]:
    """(code, indented name) for the active regions the user may filter by, in tree order.

    The user's own regions and the two levels below: a county official gets the county, its streets and
    their communities, a city official the city, its counties and streets, a province-wide user the
    province, the cities and the counties (not the communities). `selected` (the request's code), when it
    is in scope but below those levels or retired, is added in its place in the tree. One query."""
    scope = scope_for(user)
    if scope.is_superuser:
        top = 0
    else:
        prefixes = scope.prefixes(action)
        if not prefixes:
            return []
        top = min(DEPTH_BY_CODE_LENGTH.get(len(p), LEVEL_DEPTH[RegionLevel.COMMUNITY]) for p in prefixes)
    levels = [level for level, depth in LEVEL_DEPTH.items() if top <= depth < top + LEVELS_SHOWN]
    wanted = Q(is_active=True, level__in=levels)
    selected = (selected or "").strip()
    if selected and len(selected) <= CODE_MAX_LENGTH and "\x00" not in selected:  # else it names no region
        wanted |= Q(code=selected)
    rows = restrict(Region.objects.filter(wanted), scope, action).order_by("code").values_list(
        "code", "name", "level", "is_active")
    choices = []
    for code, name, level, is_active in rows:
        label = name if is_active else f"{name}（{code}）"
        # a region below the levels shown (a community from a link) sits one step under the lowest shown
        choices.append((code, INDENT * min(max(LEVEL_DEPTH[level] - top, 0), LEVELS_SHOWN) + label))
    return choices
