"""Set-up after the region tree is loaded: the province default rows the other apps read.

The estates app's default eligibility policy and priority weights, the plans app's default target rule,
unit costs and plan period. Each app's service makes its own rows (validated, audited); this runs them
in one transaction. Pages and the API never create these rows: without them they read the defaults.
"""

from __future__ import annotations

from django.db import transaction


def defaults_setup(*, actor=None, cause: str = "") -> list:
    """Make the missing default rows (idempotent); returns the rows made. An actor of None is the system."""
    from gaizao.estates.services import rules_defaults_setup
    from gaizao.plans.services import defaults_setup as plans_defaults_setup

    with transaction.atomic():
        return [*rules_defaults_setup(actor=actor, cause=cause), *plans_defaults_setup(actor=actor, cause=cause)]
