"""What people see of a job kind: its name, the result keys the job page lists, the page where the
result is shown (so a job page is never a dead end) and, optionally, what a job came to in one line.

Apps register their kinds in `AppConfig.ready()`, beside the handler in `core.jobs.JOB_HANDLERS`:

    register_job_kind("plans.optimise", label=_("Schedule optimisation"),
                      result_url=lambda job: …, result_labels={"objective": _("Objective"), …},
                      outcome=lambda job: …)

A kind nobody registered is shown by its stored name, with its whole result as a generic list and its
status label (成功, 失败) as its outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.urls import NoReverseMatch
from django.utils.translation import gettext as _

from .display import plain_text


@dataclass(frozen=True)
class JobKind:
    label: str  # a lazy translation
    # the URL of the page that shows this job's result (or where it was started), or None
    result_url: Callable[[object], str | None] | None = None
    # the result keys the job page lists, in this order, with their names; empty: every key, as stored
    result_labels: Mapping[str, str] = field(default_factory=dict)
    # what a job came to, in one line of words ("a check that found 6 problems"), or None: the status label then
    outcome: Callable[[object], str | None] | None = None


_kinds: dict[str, JobKind] = {}


def register_job_kind(kind: str, *, label: str, result_url: Callable[[object], str | None] | None = None,
                      result_labels: Mapping[str, str] | None = None,
                      outcome: Callable[[object], str | None] | None = None) -> None:
    """Name a job kind for people; registering again replaces."""
    _kinds[kind] = JobKind(label=label, result_url=result_url, result_labels=dict(result_labels or {}),
                           outcome=outcome)


def job_kind(kind: str) -> JobKind:
    return _kinds.get(kind) or JobKind(label=kind)


def job_kind_label(kind: str) -> str:
    return str(job_kind(kind).label)


def job_result_rows(job) -> list[tuple[str, str]]:
    """A finished job's result as (name, value in words) rows for its page."""
    result = job.result
    if result in (None, {}, []):
        return []
    if not isinstance(result, dict):
        return [(_("Result"), plain_text(result))]
    labels = job_kind(job.kind).result_labels
    keys = [key for key in labels if key in result] if labels else list(result)
    return [(str(labels.get(key, key)), plain_text(result[key])) for key in keys]


def kind_outcome(job) -> str | None:
    """What the job came to in one line as its kind says it, or None (no outcome registered, or none for this
    job)."""
    make = job_kind(job.kind).outcome
    if make is None:
        return None
    try:
        text = make(job)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None  # e.g. an old job whose params or result lack what the outcome reads
    return str(text) if text else None


def job_outcome_text(job) -> str:
    """What the job came to in one line (the job list, the job page): its kind's outcome, else the status
    label."""
    return kind_outcome(job) or job.get_status_display()


def job_result_url(job) -> str | None:
    """Where the job's result is shown, if its kind says; a link that cannot be made is left out."""
    make = job_kind(job.kind).result_url
    if make is None:
        return None
    try:
        return make(job) or None
    except (KeyError, ValueError, TypeError, AttributeError, NoReverseMatch):
        return None  # e.g. an old job whose params lack what the link needs
