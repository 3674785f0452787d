"""Writes to the region tree. Every change is audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from gaizao.core.audit import record_changes_bulk, snapshot
from gaizao.core.errors import ErrorCode, ServiceError
from gaizao.core.models import AuditAction

from .models import LEVEL_DEPTH, PROVINCE_CODE, Region, RegionLevel

DATA_DIR = settings.PACKAGE_DIR / "data"
DEFAULT_REGION_FILES = (DATA_DIR / "regions_zhejiang.csv", DATA_DIR / "regions_retired_zhejiang.csv")
REQUIRED_COLUMNS = ("code", "name", "level", "parent_code")
CODE_LENGTH = {"province": 2, "city": 4, "county": 6, "street": 9, "community": 12}
TRUE_WORDS = {"", "1", "yes", "y", "true", "是"}
FALSE_WORDS = {"0", "no", "n", "false", "否"}

ProgressCallback = Callable[[int, str], None]


@dataclass
class RegionRow:
    line: int
    code: str
    name: str
    level: str
    parent_code: str
    is_active: bool = True
    successor_codes: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class RegionLoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "files": self.files}


def _error(source: str, line: int, column: str, value: str, reason: str) -> dict:
    return {"file": source, "row": line, "column": column, "value": value, "reason": reason}


def parse_region_csv(text: str, *, source: str) -> list[RegionRow]:
    """Parse and check one region CSV; raises ServiceError listing every bad row and column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ServiceError(
            ErrorCode.REGION_FILE_INVALID,
            _("%(file)s lacks the columns: %(columns)s") % {"file": source, "columns": ", ".join(missing)},
            fields={"columns": missing},
        )
    rows: list[RegionRow] = []
    errors: list[dict] = []
    for line, raw in enumerate(reader, start=2):
        raw = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        code, level = raw["code"], raw["level"]
        if not code.isdigit():
            errors.append(_error(source, line, "code", code, _("a region code is digits only")))
            continue
        if level not in CODE_LENGTH:
            errors.append(_error(source, line, "level", level, _("unknown level")))
            continue
        if len(code) != CODE_LENGTH[level]:
            errors.append(_error(source, line, "code", code,
                                 _("a %(level)s code has %(n)d digits") % {"level": level, "n": CODE_LENGTH[level]}))
            continue
        if not raw["name"]:
            errors.append(_error(source, line, "name", "", _("a name is required")))
            continue
        parent_code = raw["parent_code"]
        if level == RegionLevel.PROVINCE and parent_code:
            errors.append(_error(source, line, "parent_code", parent_code, _("a province has no parent")))
            continue
        if level != RegionLevel.PROVINCE and not code.startswith(parent_code or "-"):
            errors.append(_error(source, line, "parent_code", parent_code,
                                 _("the code must start with its parent's code")))
            continue
        active_word = raw.get("is_active", "").lower()
        if active_word not in TRUE_WORDS | FALSE_WORDS:
            errors.append(_error(source, line, "is_active", active_word, _("expected yes or no")))
            continue
        successors = [c.strip() for c in raw.get("successor_codes", "").replace(",", ";").split(";") if c.strip()]
        rows.append(RegionRow(line=line, code=code, name=raw["name"], level=level, parent_code=parent_code,
                              is_active=active_word not in FALSE_WORDS, successor_codes=successors,
                              note=raw.get("note", "")))
    seen: dict[str, int] = {}
    for row in rows:
        if row.code in seen:
            errors.append(_error(source, row.line, "code", row.code,
                                 _("duplicate of row %(row)d") % {"row": seen[row.code]}))
        seen.setdefault(row.code, row.line)
    if errors:
        raise ServiceError(ErrorCode.REGION_FILE_INVALID,
                           _("%(n)d rows of %(file)s are invalid") % {"n": len(errors), "file": source},
                           fields={"rows": errors})
    return rows


def read_region_file(path: Path | str) -> str:
    data = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ServiceError(ErrorCode.REGION_FILE_INVALID, _("%(file)s is not UTF-8 or GB18030 text") % {"file": path})


def regions_load(
    *, actor, paths: list[Path | str] | None = None, progress: ProgressCallback | None = None, cause: str = ""
) -> RegionLoadResult:
    """Load region trees from CSV files; idempotent, all or nothing, every change audited.

    Regions absent from the files are left alone: data may hang off them.
    """
    paths = [Path(p) for p in (paths or DEFAULT_REGION_FILES)]
    report = progress or (lambda pct, msg: None)
    rows: list[RegionRow] = []
    for path in paths:
        rows.extend(parse_region_csv(read_region_file(path), source=path.name))
    report(10, _("Read %(n)d regions") % {"n": len(rows)})
    by_code = {r.code: r for r in rows}
    if len(by_code) != len(rows):
        duplicated = sorted({r.code for r in rows if sum(1 for x in rows if x.code == r.code) > 1})[:20]
        raise ServiceError(ErrorCode.REGION_FILE_INVALID, _("Codes appear in more than one file"),
                           fields={"codes": duplicated})

    result = RegionLoadResult(files=[p.name for p in paths])
    with transaction.atomic():
        existing = {r.code: r for r in Region.objects.all()}
        _check_parents_and_successors(rows, by_code, existing)
        audit_entries = []
        ordered = sorted(rows, key=lambda r: (LEVEL_DEPTH[r.level], r.code))
        for depth in range(len(LEVEL_DEPTH)):
            level_rows = [r for r in ordered if LEVEL_DEPTH[r.level] == depth]
            to_create, to_update = [], []
            for row in level_rows:
                parent = existing.get(row.parent_code) if row.parent_code else None
                values = {"name": row.name, "level": row.level, "parent_id": parent.pk if parent else None,
                          "is_active": row.is_active, "retired_note": row.note}
                region = existing.get(row.code)
                if region is None:
                    to_create.append(Region(code=row.code, **values))
                    continue
                before = snapshot(region)
                for name, value in values.items():
                    setattr(region, name, value)
                after = snapshot(region)
                if before != after:
                    to_update.append(region)
                    audit_entries.append((region, AuditAction.UPDATE, before, after))
                else:
                    result.unchanged += 1
            created = Region.objects.bulk_create(to_create, batch_size=1000)
            if created and created[0].pk is None:  # backends that do not return ids
                created = list(Region.objects.filter(code__in=[r.code for r in to_create]))
            for region in created:
                existing[region.code] = region
                audit_entries.append((region, AuditAction.CREATE, None, _region_snapshot_without_m2m(region)))
            if to_update:
                Region.objects.bulk_update(to_update, ["name", "level", "parent", "is_active", "retired_note"],
                                           batch_size=1000)
            result.created += len(created)
            result.updated += len(to_update)
            report(10 + int(70 * (depth + 1) / len(LEVEL_DEPTH)), _("Loaded level %(level)s") % {"level": depth})
        _link_successors(rows, existing, audit_entries)
        record_changes_bulk(actor=actor, entries=audit_entries, verb="regions.load", cause=cause or "load-regions")
    report(100, _("Done"))
    return result


def _region_snapshot_without_m2m(region: Region) -> dict:
    return {f.attname: getattr(region, f.attname) for f in Region._meta.concrete_fields}


def _check_parents_and_successors(rows, by_code, existing) -> None:
    errors = []
    for row in rows:
        if row.parent_code and row.parent_code not in by_code and row.parent_code not in existing:
            errors.append(_error("", row.line, "parent_code", row.parent_code, _("no such region")))
            continue
        parent_level = (by_code.get(row.parent_code) or existing.get(row.parent_code))
        if parent_level is not None and LEVEL_DEPTH[parent_level.level] != LEVEL_DEPTH[row.level] - 1:
            errors.append(_error("", row.line, "level", row.level, _("does not sit directly below its parent")))
        for successor in row.successor_codes:
            if successor not in by_code and successor not in existing:
                errors.append(_error("", row.line, "successor_codes", successor, _("no such region")))
    if errors:
        raise ServiceError(ErrorCode.REGION_FILE_INVALID,
                           _("%(n)d rows refer to regions that do not fit") % {"n": len(errors)},
                           fields={"rows": errors})


def _link_successors(rows, existing, audit_entries) -> None:
    for row in rows:
        if not row.successor_codes:
            continue
        region = existing[row.code]
        wanted = sorted(existing[c].pk for c in row.successor_codes)
        current = sorted(region.successors.values_list("pk", flat=True))
        if wanted != current:
            before = snapshot(region)
            region.successors.set(wanted)
            audit_entries.append((region, AuditAction.UPDATE, before, snapshot(region)))


RELOAD_JOB_KIND = "regions.reload"


@transaction.atomic
def regions_reload_start(*, actor):
    """Start reloading the shipped region tree as a job, or give the reload already waiting or running:
    a second click (or a second admin) would only queue the same work again, each run holding the
    database for seconds."""
    from gaizao.core.jobs import job_start
    from gaizao.core.models import Job, JobStatus

    province = Region.objects.select_for_update().get(code=PROVINCE_CODE)  # one starter at a time
    waiting = Job.objects.filter(kind=RELOAD_JOB_KIND, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).first()
    if waiting is not None:
        return waiting
    return job_start(actor=actor, kind=RELOAD_JOB_KIND, region=province)
