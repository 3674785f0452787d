"""Reads for the home page. Everything region-bound goes through `restrict`."""

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gaizao.accounts.scoping import Role, Scope, restrict
from gaizao.regions.models import Region

from .attention import AttentionItem, attention_for
from .job_kinds import kind_outcome
from .models import Job, JobStatus


def home_summary(*, user, scope: Scope) -> dict:
    from gaizao.accounts.models import Membership

    rows = Membership.objects.filter(user=user, is_active=True).select_related(
        "region", "organisation__region").order_by("role", "pk")
    memberships = []
    for m in rows:
        region = m.region or (m.organisation.region if m.organisation else None)
        memberships.append({"role": m.get_role_display(), "region": region, "organisation": m.organisation,
                            # a resident's community or a company's home region is no page of theirs
                            "region_linked": region is not None and scope.covers(region.code)})
    top_regions = restrict(Region.objects.all(), user).filter(code__in=list(scope.prefixes("view")))
    return {
        "memberships": memberships,
        # people with no region-wide role: what the site is for them
        "resident_of": [m.region for m in rows if m.role == Role.RESIDENT and m.region is not None],
        "party_for": [m.organisation for m in rows if m.role == Role.PROJECT_PARTY and m.organisation is not None],
        "attention": attention_for(user=user, scope=scope),
        "top_regions": top_regions,
        "region_count": restrict(Region.objects.filter(is_active=True), user).count(),
    }


def jobs_needing_attention(*, user, scope: Scope) -> list[AttentionItem]:
    """Jobs still running in the user's reach, and the user's own jobs that failed."""
    jobs = restrict(Job.objects.select_related("region"), user)
    items = [AttentionItem(kind="job_running", icon="○", url=reverse("jobs:detail", args=[job.pk]),
                           text=_running_text(job))
             for job in jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])[:5]]
    items += [AttentionItem(kind="job_failed", icon="▲", url=reverse("jobs:detail", args=[job.pk]),
                            text=_failed_text(job))
              for job in jobs.filter(status=JobStatus.FAILED, created_by=user)[:5]]
    return items


def _running_text(job: Job) -> str:
    outcome = kind_outcome(job)
    if outcome:
        return _("%(job)s: %(outcome)s, %(progress)d%% done") % {"job": job, "outcome": outcome,
                                                                 "progress": job.progress}
    return _("%(job)s: %(progress)d%% done") % {"job": job, "progress": job.progress}


def _failed_text(job: Job) -> str:
    outcome = kind_outcome(job)
    if outcome:
        return _("%(job)s: %(outcome)s") % {"job": job, "outcome": outcome}
    return _("%(job)s failed") % {"job": job}


def job_queue_note(job: Job, *, now=None) -> dict | None:
    """For a job queued longer than JOB_QUEUE_PATIENCE_SECONDS: how many jobs are ahead of it while a
    worker is busy with one, or that no worker seems to run (the person waiting should tell someone)."""
    if job.status != JobStatus.QUEUED:
        return None
    now = now or timezone.now()
    if (now - job.created_at).total_seconds() < settings.JOB_QUEUE_PATIENCE_SECONDS:
        return None
    alive_since = now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    running = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__gte=alive_since).exists()
    if not running:
        return {"worker_missing": True}
    ahead = Job.objects.filter(status=JobStatus.QUEUED, created_at__lt=job.created_at).count() + 1
    return {"worker_missing": False, "ahead": ahead}
