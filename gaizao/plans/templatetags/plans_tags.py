from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

register = template.Library()

# The plans sub-menu: (url name, label, the check its view makes). "region_pages" views open on the user's
# province, city or county (`selectors.region_from_param` without a code); the plan list opens for anyone
# signed in (it lists the plans in their regions, maybe none).
SUBNAV = (
    ("plans:list", _("Plans"), None),
    ("dashboard:region", _("Dashboard"), "region_pages"),
    ("plans:rollup", _("Roll-up"), "region_pages"),
    ("progress:list", _("Monthly progress"), "region_pages"),
    ("plans:budgets", _("Budgets"), "region_pages"),
    ("plans:rules", _("Targets and unit costs"), "region_pages"),
    ("plans:region-optimise", _("Optimiser"), "region_pages"),
)
_UNSET = object()


def region_pages_home(request):
    """The region the region pages open on for this request's user, or None (read once per request)."""
    home = getattr(request, "_plans_region_pages_home", _UNSET)
    if home is _UNSET:
        user = getattr(request, "user", None)
        home = None
        if user is not None and user.is_authenticated:
            # imported here, not at start-up: selectors loads the optimiser (numpy, HiGHS)
            from gaizao.plans import selectors

            home = selectors.region_pages_home(user)
        request._plans_region_pages_home = home
    return home


@register.simple_tag(takes_context=True)
def plans_subnav(context) -> list[dict]:
    """The sub-menu links this user may open; a link whose page would answer 404 is left out."""
    request = context.get("request")
    current = getattr(getattr(request, "resolver_match", None), "view_name", "")
    links = []
    for name, label, check in SUBNAV:
        if check == "region_pages" and region_pages_home(request) is None:
            continue
        links.append({"url": reverse(name), "label": label, "current": name == current})
    return links


@register.simple_tag(takes_context=True)
def region_pages_open(context) -> bool:
    """Whether the region pages (dashboard, roll-up, statistical tables …) open for this user."""
    return region_pages_home(context.get("request")) is not None


# The optimiser's status of a run or a county, in words (the result keeps the solver's codes).
SOLVER_STATUS = {
    "optimal": _("optimal"),
    "gap_reached": _("feasible, within the gap to the bound"),
    "gap": _("feasible, within the gap to the bound"),
    "gap_polished": _("feasible, within the gap to the bound"),
    "time_limit": _("stopped at the time limit"),
    "infeasible": _("infeasible: no schedule meets every rule"),
}


@register.filter
def solver_status(code) -> str:
    """optimal -> 最优, infeasible -> 不可行 … (an unknown code stays as it is)."""
    return SOLVER_STATUS.get(code, code or "—")


@register.filter
def wan(value) -> str:
    """An amount in 万元 as pages show it: two decimals, thousands separated (6,400.00; 5,550.26). Storage,
    the exports and the API keep every decimal (to the yuan, 0.0001 万元). None stays a dash."""
    if value in (None, ""):
        return "—"
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f}"


def rounded_whole(value) -> int | None:
    """An objective, a bound: rounded half up to a whole number (514540.8937 → 514541); None when it is not
    a number. The job page's result and the run's pages show it so (`whole`)."""
    try:
        number = Decimal(str(value))
        return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP)) if number.is_finite() else None
    except (InvalidOperation, ValueError, TypeError):
        return None


@register.filter
def whole(value) -> str:
    """An objective or a bound as the pages show it: a whole number, thousands separated from 10,000 on as
    everywhere (core.display.number_text: 514,541; 1999); None stays a dash."""
    from gaizao.core.display import number_text

    number = rounded_whole(value) if value not in (None, "") else None
    return "—" if number is None else number_text(number)


@register.filter
def plain_number(value) -> str:
    """A stored decimal in an input box: every decimal it has, without trailing zeros (6400, not 6400.0000
    or 6.4E+3), so saving the box unchanged changes nothing."""
    if value in (None, ""):
        return ""
    try:
        text = format(Decimal(str(value)), "f")
    except (InvalidOperation, ValueError):
        return str(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def pct(value, places: int = 2) -> str:
    """0.0123 -> "1.23%" (None stays a dash)."""
    if value in (None, ""):
        return "—"
    try:
        return f"{float(value) * 100:.{int(places)}f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter
def get(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None
