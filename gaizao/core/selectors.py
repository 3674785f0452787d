"""Reads for the home page. Everything region-bound goes through `restrict`."""

from gaizao.accounts.scoping import Role, Scope, restrict
from gaizao.regions.models import Region

from .models import Job, JobStatus


def home_summary(*, user, scope: Scope) -> dict:
    codes = [code for _role, code in scope.memberships if code]
    regions = {r.code: r for r in Region.objects.filter(code__in=codes)}
    memberships = [{"role": Role(role).label, "region": regions.get(code)} for role, code in scope.memberships]
    jobs = restrict(Job.objects.select_related("region"), user)
    attention = []
    failed = jobs.filter(status=JobStatus.FAILED, created_by=user)[:5]
    running = jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])[:5]
    for job in running:
        attention.append({"kind": "job_running", "job": job})
    for job in failed:
        attention.append({"kind": "job_failed", "job": job})
    top_regions = restrict(Region.objects.all(), user).filter(code__in=list(scope.prefixes("view")))
    return {
        "memberships": memberships,
        "attention": attention,
        "top_regions": top_regions,
        "region_count": restrict(Region.objects.filter(is_active=True), user).count(),
    }
