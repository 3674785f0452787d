from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gaizao.accounts.scoping import ScopedQuerySet

from .display import actor_text
from .errors import ErrorCode, ServiceError
from .job_kinds import job_kind_label, job_outcome_text
from .job_progress import read_live


class AuditQuerySet(ScopedQuerySet):
    scope_lookup = "region_code"

    def scope_extra_q(self, scope, action):
        # Changes to things outside any region (users, settings) are for province admins.
        return Q(region_code="") if scope.is_province_admin else Q(pk__in=[])

    def update(self, **kwargs):
        raise ServiceError(ErrorCode.AUDIT_IMMUTABLE, _("Audit entries cannot be changed."))

    def delete(self):
        raise ServiceError(ErrorCode.AUDIT_IMMUTABLE, _("Audit entries cannot be deleted."))


class AuditAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Changed")
    DELETE = "delete", _("Deleted")
    TRANSITION = "transition", _("Status changed")
    LOGIN = "login", _("Signed in")


class AuditEntry(models.Model):
    """Who did what, when, to which object, with the values before and after.

    Written only by `core.audit.record_change`; never updated or deleted by
    the application (lifetime responsibility depends on it).
    """

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=16, choices=AuditAction.choices)
    verb = models.CharField(_("what was done"), max_length=64, blank=True)
    # no index of its own: the (object_type, object_id, at) index leads with it
    object_type = models.ForeignKey(ContentType, verbose_name=_("object type"), on_delete=models.PROTECT,
                                    db_index=False)
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=200)
    region_code = models.CharField(_("region code"), max_length=12, blank=True, db_index=True)
    before = models.JSONField(_("before"), null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), null=True, blank=True, encoder=DjangoJSONEncoder)
    cause = models.CharField(_("cause"), max_length=200, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["object_type", "object_id", "-at"])]

    def __str__(self) -> str:
        at = timezone.localtime(self.at) if self.at and timezone.is_aware(self.at) else self.at
        return f"{at:%Y-%m-%d %H:%M} {actor_text(self.actor_name)} {self.get_action_display()} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ServiceError(ErrorCode.AUDIT_IMMUTABLE, _("Audit entries cannot be changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ServiceError(ErrorCode.AUDIT_IMMUTABLE, _("Audit entries cannot be deleted."))

    @property
    def changed_fields(self) -> list[tuple[str, object, object]]:
        before, after = self.before or {}, self.after or {}
        keys = list(dict.fromkeys([*before.keys(), *after.keys()]))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class JobQuerySet(ScopedQuerySet):
    scope_lookup = "region__code"

    def scope_extra_q(self, scope, action):
        # People always see the jobs they started themselves.
        return Q(created_by_id=scope.user_id) if scope.user_id else Q(pk__in=[])


class Job(models.Model):
    """A long piece of work run by the task worker, with progress people can watch."""

    kind = models.CharField(_("kind"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    message = models.CharField(_("message"), max_length=300, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    result = models.JSONField(_("result"), null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(_("error"), blank=True)
    region = models.ForeignKey("regions.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("started by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    request_id = models.CharField(max_length=64, blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Bumped with every progress report; a running job that stops reporting has lost its worker.
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.kind_label} #{self.pk}"

    @property
    def kind_label(self) -> str:
        """The kind's name for people (core.job_kinds), else the stored kind."""
        return job_kind_label(self.kind)

    @property
    def outcome_text(self) -> str:
        """What the job came to in one line (core.job_kinds), else its status label."""
        return job_outcome_text(self)

    @classmethod
    def from_db(cls, db, field_names, values):
        job = super().from_db(db, field_names, values)
        if job.__dict__.get("status") == JobStatus.RUNNING and "progress" in job.__dict__:
            # progress reported from inside the job's own transaction (SQLite; see core/job_progress.py)
            live = read_live(job.pk)
            beat = job.__dict__.get("heartbeat_at")
            if live is not None and (beat is None or live["at"] > beat):
                job.progress, job.message, job.heartbeat_at = live["progress"], live["message"], live["at"]
        return job

    @property
    def region_code(self) -> str:
        return self.region.code

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class RegionRuleQuerySet(ScopedQuerySet):
    scope_lookup = "region__code"


class RegionRule(models.Model):
    """Base of rules kept as data: the province default (region 33) and per-county overrides, one row each.

    Subclasses add their own `region` one-to-one field (each with its related name) and their settings.
    """

    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RegionRuleQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["region__code"]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} · {self.region}"

    @property
    def region_code(self) -> str:
        return self.region.code
