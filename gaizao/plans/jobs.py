"""Background jobs of the plans app: long optimiser runs (a city's or the province's whole pool)."""

from __future__ import annotations

from django.db import transaction

from gaizao.accounts.scoping import scope_for
from gaizao.core.errors import ErrorCode, ServiceError
from gaizao.regions.models import Region

from . import selectors, services
from .templatetags.plans_tags import rounded_whole


def plans_optimise_job(job, progress) -> dict:
    params = job.params or {}
    region = Region.objects.filter(code=params.get("region") or job.region.code).first()
    if region is None:
        raise ServiceError(ErrorCode.UNKNOWN_REGION, "unknown region")
    period = selectors.period_from_param(params.get("period"))
    actor = job.created_by
    if actor is not None and not services.can_optimise(actor, region):
        raise ServiceError(ErrorCode.PERMISSION_DENIED, "not allowed")
    progress(5, "building the instance")
    result = selectors.run_optimiser(region, period, time_limit=float(params.get("time_limit", 60)),
                                     scope=scope_for(actor) if actor is not None else None, progress=progress)
    with transaction.atomic():
        run = services.optimisation_run_save(actor=actor, region=region, period=period,
                                             params={k: v for k, v in params.items()}, result=result)
    # the job page lists these as they are; objectives and bounds rounded as the run's pages show them
    # (514541, not 514,540.89 beside it); the run keeps every decimal
    return {"run": run.pk, **{k: result.get(k) for k in ("candidates", "gap", "feasible", "status")},
            **{k: rounded_whole(result.get(k)) for k in ("objective", "bound", "greedy_objective")}}
