"""Set-up after the region tree is loaded: the province default rows the other apps read.

The estates app's default eligibility policy and priority weights, the plans app's default target rule,
unit costs and plan period. Each app's service makes its own rows (validated, audited); this runs them
in one transaction. Pages and the API never create these rows: without them they read the defaults.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from gaizao.accounts.scoping import scope_for
from gaizao.core.audit import record_change, snapshot
from gaizao.core.errors import PermissionDeniedError
from gaizao.core.models import AuditAction

from .models import PROVINCE_CODE, Region


def defaults_setup(*, actor=None, cause: str = "") -> list:
    """Make the missing default rows (idempotent); returns the rows made. An actor of None is the system."""
    from gaizao.estates.services import rules_defaults_setup
    from gaizao.plans.services import defaults_setup as plans_defaults_setup

    with transaction.atomic():
        return [*rules_defaults_setup(actor=actor, cause=cause), *plans_defaults_setup(actor=actor, cause=cause)]


@transaction.atomic
def province_rows_setup(*, actor, models, verb: str, cause: str) -> list:
    """A row of each of `models` for the province (region 33, the model's defaults) where it has none,
    each creation audited under `verb`; returns the rows made. Only the province office (or the system,
    actor None) sets up defaults. The province row is locked: two set-ups at once make each row once."""
    if actor is not None and not scope_for(actor).is_province_admin:
        raise PermissionDeniedError(_("Only the province office sets up the default rules."))
    province = Region.objects.select_for_update().filter(code=PROVINCE_CODE).first()
    if province is None:
        return []
    made = []
    for model in models:
        if model.objects.filter(region=province).exists():
            continue
        row = model(region=province)
        row.full_clean()
        row.save()
        record_change(actor=actor, obj=row, action=AuditAction.CREATE, before=None, after=snapshot(row),
                      verb=verb, cause=cause, region_code=PROVINCE_CODE)
        made.append(row)
    return made
