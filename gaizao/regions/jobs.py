from django.db import transaction

from gaizao.core.models import Job

from .services import regions_load
from .setup import defaults_setup


def regions_reload_job(job: Job, progress) -> dict:
    """Reload the shipped region files (or the ones named in params) as the user who started the job,
    then store the province default rows that are missing (as `gaizao load-regions` does)."""
    paths = job.params.get("paths") or None
    cause = f"job {job.pk}"
    with transaction.atomic():  # the tree and its default rows, all or nothing
        result = regions_load(actor=job.created_by, paths=paths, progress=progress, cause=cause).as_dict()
        made = defaults_setup(actor=job.created_by, cause=cause)
    return {**result, "defaults_created": len(made)}
