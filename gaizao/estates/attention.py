"""The estates' items for the home page's "Needs your attention" (`gaizao.core.attention`)."""

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import ngettext

from gaizao.accounts.scoping import Action, Scope
from gaizao.core.attention import AttentionItem

from .models import Eligibility, EstateStatus
from .selectors import estates_for


def estates_awaiting_pool(*, user, scope: Scope) -> list[AttentionItem]:
    """Eligible estates still only surveyed: someone who may change them has a pool decision to make
    (admit, defer or drop). Listed best-ranked first."""
    if not (scope.is_superuser or scope.prefixes(Action.CHANGE)):
        return []
    waiting = estates_for(user, Action.CHANGE).filter(status=EstateStatus.SURVEYED,
                                                      eligibility=Eligibility.ELIGIBLE).count()
    if not waiting:
        return []
    query = urlencode({"status": EstateStatus.SURVEYED, "eligibility": Eligibility.ELIGIBLE, "sort": "county_rank"})
    return [AttentionItem(
        kind="estates_awaiting_pool", icon="■", url=f"{reverse('estates:list')}?{query}",
        text=ngettext("%(n)d eligible estate is surveyed and waits for a pool decision",
                      "%(n)d eligible estates are surveyed and wait for a pool decision", waiting) % {"n": waiting})]
