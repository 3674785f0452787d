"""Census imports as background jobs: the upload is stored, a job checks (and maybe writes) it.

`census_import_start` refuses at once what is plainly not a census file (too big, not a
spreadsheet by its content), so people hear about it without waiting; everything else is the
job's. A commit after a dry run starts a new job on the same stored file.
"""

from __future__ import annotations

import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils.translation import gettext as _

from gaizao.accounts.scoping import Action, scope_for
from gaizao.core.errors import ErrorCode, NotFoundError, ServiceError
from gaizao.core.jobs import job_start
from gaizao.core.models import Job
from gaizao.regions.models import Region

from .importer import census_import
from .reader import MAX_UPLOAD_BYTES, CensusFileError, limit, sniff_kind

JOB_KIND = "estates.census_import"
STORAGE_DIR = "census-uploads"


def can_import(user) -> bool:
    scope = scope_for(user)
    return scope.is_superuser or bool(scope.prefixes(Action.CHANGE))


def home_region(user) -> Region:
    """The region an import job belongs to: the province for province admins, else the user's area
    (the common ancestor of several)."""
    scope = scope_for(user)
    prefixes = scope.prefixes(Action.CHANGE)
    if scope.is_province_admin or not prefixes:
        return Region.objects.get(code="33")
    common = prefixes[0]
    for prefix in prefixes[1:]:
        n = 0
        while n < min(len(common), len(prefix)) and common[n] == prefix[n]:
            n += 1
        common = common[:n]
    for length in (12, 9, 6, 4, 2):
        if len(common) >= length:
            region = Region.objects.filter(code=common[:length]).first()
            if region is not None:
                return region
    return Region.objects.get(code="33")


def census_import_start(*, actor, data: bytes, filename: str, dry_run: bool = True,
                        valid_only: bool = False) -> Job:
    """Store an upload and start a job that checks it (and writes it unless `dry_run`)."""
    if not can_import(actor):
        raise NotFoundError()
    max_bytes = limit("MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES)
    if len(data) > max_bytes:
        raise CensusFileError(_("The file is larger than %(mb)d MB.") % {"mb": max_bytes // 2 ** 20},
                              fields={"reason": "too_large"})
    if not data:
        raise CensusFileError(_("The file is empty."))
    kind = sniff_kind(data)
    name = default_storage.save(f"{STORAGE_DIR}/{uuid.uuid4().hex}.{kind}", ContentFile(data))
    return _start(actor=actor, path=name, filename=filename, kind=kind, dry_run=dry_run, valid_only=valid_only)


def census_commit_start(*, actor, job: Job, valid_only: bool = False) -> Job:
    """Import for real the file a dry-run job checked."""
    if job.kind != JOB_KIND or not job.params.get("path"):
        raise NotFoundError()
    if not default_storage.exists(job.params["path"]):
        raise ServiceError(ErrorCode.CENSUS_FILE_INVALID, _("The uploaded file is no longer kept; upload it again."))
    return _start(actor=actor, path=job.params["path"], filename=job.params.get("filename", ""),
                  kind=job.params.get("kind", ""), dry_run=False, valid_only=valid_only)


def _start(*, actor, path, filename, kind, dry_run, valid_only) -> Job:
    params = {"path": path, "filename": (filename or "")[:200], "kind": kind, "dry_run": bool(dry_run),
              "valid_only": bool(valid_only)}
    with transaction.atomic():
        return job_start(actor=actor, kind=JOB_KIND, region=home_region(actor), params=params)


def census_import_job(job: Job, progress) -> dict:
    """The job handler: read the stored upload and import it as the user who started the job."""
    params = job.params
    try:
        with default_storage.open(params["path"], "rb") as handle:
            data = handle.read()
    except (OSError, KeyError):
        raise ServiceError(ErrorCode.CENSUS_FILE_INVALID, _("The uploaded file is no longer kept; upload it again.")
                           ) from None
    side = connections.create_connection(DEFAULT_DB_ALIAS) if connection.vendor == "postgresql" else None

    def report(pct: int, message: str) -> None:
        if side is None or not connection.in_atomic_block:
            progress(pct, message)
            return
        # inside the import's transaction the job row's update would stay invisible until the end:
        # on PostgreSQL a second connection shows people the progress of the write as it happens
        # (SQLite allows one writer, so there the bar waits at the writing step)
        with side.cursor() as cursor:
            cursor.execute(f"UPDATE {connection.ops.quote_name(Job._meta.db_table)} SET progress = %s, message = %s "
                           f"WHERE id = %s", [max(0, min(100, int(pct))), str(message)[:300], job.pk])

    try:
        return census_import(actor=job.created_by, data=data, filename=params.get("filename", ""),
                             dry_run=params.get("dry_run", True), valid_only=params.get("valid_only", False),
                             progress=report, cause=f"census import (job {job.pk}) {params.get('filename', '')}")
    finally:
        if side is not None:
            side.close()


def job_report(job: Job) -> dict | None:
    """The import report of a finished job, whether it succeeded or was refused for bad rows."""
    result = job.result
    if not isinstance(result, dict):
        return None
    if "fields" in result and isinstance(result["fields"], dict) and "errors" in result["fields"]:
        return result["fields"]
    return result if "errors" in result else None
