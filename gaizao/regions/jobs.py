from gaizao.core.models import Job

from .services import regions_load


def regions_reload_job(job: Job, progress) -> dict:
    """Reload the shipped region files (or the ones named in params) as the user who started the job."""
    paths = job.params.get("paths") or None
    return regions_load(actor=job.created_by, paths=paths, progress=progress, cause=f"job {job.pk}").as_dict()
