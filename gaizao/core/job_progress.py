"""A running job's progress where the people watching can see it, also while the job's own
transaction is open.

A handler that writes in one transaction (a census import spends half its time there) cannot show
progress by updating its job row: the update stays invisible until commit. So inside a transaction:

- PostgreSQL: the row is updated through a second connection of the job's own, which commits at once;
- SQLite: the writer holds the whole database, so the progress goes to a small file beside it (SQLite
  means one machine) and `Job.from_db` lays it over the row of a running job. The file goes when the
  job finishes.

Outside a transaction the job row is updated as usual. A report made aside is only a sign of life: one
that cannot be made (a full disk, a lock held too long) is skipped, never fails or stalls the job.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.utils import timezone


def live_file(job_id: int) -> Path:
    return Path(settings.VAR_DIR) / "jobs" / f"{job_id}.progress.json"


def read_live(job_id: int) -> dict | None:
    """{"progress", "message", "at"} written during the job's transaction, or None."""
    try:
        data = json.loads(live_file(job_id).read_text(encoding="utf-8"))
        data["at"] = datetime.fromisoformat(data["at"])
        return data
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget_live(job_id: int) -> None:
    live_file(job_id).unlink(missing_ok=True)


class ProgressReporter:
    """`reporter(pct, message)` for one job run; `close()` when the job has finished."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self._side_connection = None

    def __call__(self, pct: int, message: str) -> dict:
        values = {"progress": max(0, min(100, int(pct))), "message": str(message)[:300],
                  "heartbeat_at": timezone.now()}
        from .models import Job

        if not connection.in_atomic_block:
            Job.objects.filter(pk=self.job_id).update(**values)
        elif connection.vendor == "sqlite":
            with suppress(OSError):
                self._write_file(values)
        else:
            with suppress(DatabaseError):
                self._update_aside(Job, values)
        return values

    def _write_file(self, values: dict) -> None:
        path = live_file(self.job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps({"progress": values["progress"], "message": values["message"],
                                       "at": values["heartbeat_at"].isoformat()}, ensure_ascii=False),
                           encoding="utf-8")
        os.replace(partial, path)  # readers see the old file or the new one, never half of one

    def _update_aside(self, job_model, values: dict) -> None:
        if self._side_connection is None:
            self._side_connection = connections.create_connection("default")
            with self._side_connection.cursor() as cursor:
                # a handler holding its own job row's lock must not wait on its own progress report
                cursor.execute("SET lock_timeout = '2s'")
        meta = job_model._meta
        qn = self._side_connection.ops.quote_name
        columns = ", ".join(f"{qn(meta.get_field(name).column)} = %s" for name in values)
        with self._side_connection.cursor() as cursor:  # autocommit: visible at once
            cursor.execute(f"UPDATE {qn(meta.db_table)} SET {columns} WHERE {qn(meta.pk.column)} = %s",
                           [*values.values(), self.job_id])

    def close(self) -> None:
        if self._side_connection is not None:
            self._side_connection.close()
            self._side_connection = None
        forget_live(self.job_id)
