"""What the home page lists under "Needs your attention".

Each app knows its own waiting work (estates waiting for a pool decision, plans waiting for a step), so
each registers a provider in its `AppConfig.ready()`; core knows none of them. A provider gets the user
and the request's scope and returns items the user may act on, already scoped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gaizao.accounts.scoping import Scope


@dataclass(frozen=True)
class AttentionItem:
    text: str  # in the active language
    url: str
    kind: str  # stable, for tests and styling: "job_running", "estates_awaiting_pool", …
    icon: str = "•"


Provider = Callable[..., list[AttentionItem]]
_providers: list[Provider] = []

# The home page shows at most this many items per provider; each provider's first items are its most urgent.
ITEMS_PER_PROVIDER = 5


def register(provider: Provider) -> Provider:
    """Add a provider (`provider(*, user, scope) -> list[AttentionItem]`); registering twice is harmless."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def attention_for(*, user, scope: Scope) -> list[AttentionItem]:
    items: list[AttentionItem] = []
    for provider in _providers:
        items.extend(provider(user=user, scope=scope)[:ITEMS_PER_PROVIDER])
    return items
