"""Background jobs of the estates app."""

from django.db import transaction

from .services import estates_recompute


def estates_recompute_job(job, progress) -> dict:
    """Re-evaluate the estates of the counties a rules change governs (params: county_ids, cause)."""
    params = job.params or {}
    with transaction.atomic():
        return estates_recompute(actor=job.created_by, county_ids=params.get("county_ids"),
                                 cause=params.get("cause", ""), progress=progress)
