"""The estates an export holds: the estate list's filters over what the user may see."""

from __future__ import annotations

from django.utils.translation import gettext as _

from gaizao.accounts.scoping import restrict
from gaizao.core.errors import ErrorCode, ServiceError
from gaizao.estates.filters import EstateFilter
from gaizao.estates.models import Estate


def export_queryset(params, user):
    """Estates matching the list filters in `params` (a QueryDict), within the user's regions."""
    estates = restrict(Estate.objects.all(), user)
    params = params.copy()
    params.pop("format", None)
    params.pop("page", None)
    estate_filter = EstateFilter(params, queryset=estates)
    if not estate_filter.is_valid():
        raise ServiceError(ErrorCode.INVALID, _("The filters are invalid."),
                           fields={k: [str(e) for e in v] for k, v in estate_filter.errors.items()})
    return estate_filter.qs
