from django import template

register = template.Library()


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

