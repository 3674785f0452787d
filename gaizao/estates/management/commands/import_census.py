"""`gaizao import-census FILE [--dry-run] [--valid-only] [--user NAME]`: check and import a census file
(the estate sheet, and the building and household sheets when it has them).

Prints the summary, or the error list and exits non-zero. Without --user the import runs as the
system with the whole province in reach.
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gaizao.accounts.models import User
from gaizao.core.errors import ServiceError
from gaizao.estates.census.importer import census_import


class Command(BaseCommand):
    help = "Check and import a census spreadsheet (xlsx, xls, ods or csv): all rows or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="check and show what would change; write nothing")
        parser.add_argument("--valid-only", action="store_true", help="import the valid rows and skip the invalid")
        parser.add_argument("--user", help="import as this user (their area only)")
        parser.add_argument("--json", action="store_true", help="print the whole report as JSON")

    def handle(self, *args, file, dry_run, valid_only, user, json: bool, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        actor = None
        if user:
            actor = User.objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"no user {user}")
        try:
            report = census_import(actor=actor, data=path.read_bytes(), filename=path.name, dry_run=dry_run,
                                   valid_only=valid_only, cause=f"import-census {path.name}")
        except ServiceError as exc:
            fields = exc.fields or {}
            if json:
                self.stdout.write(_dumps({"code": exc.code, "message": exc.message, **fields}))
            else:
                self.stderr.write(exc.message)
                for warning in fields.get("warnings", []):
                    self.stderr.write(f"warning: {warning}")
                for e in fields.get("errors", []):
                    self.stderr.write(f"{e['sheet']}!{e['cell'] or e['row']}\t第{e['row']}行\t{e['column']}\t"
                                      f"{e['value']!r}\t{e['reason']}")
                if fields.get("error_count", 0) > len(fields.get("errors", [])):
                    self.stderr.write(f"… {fields['error_count']} problems in all")
            sys.exit(1)
        if json:
            self.stdout.write(_dumps(report))
        else:
            what = "would be" if dry_run else "were"
            read = [f"sheet {s['sheet']}, header row {s['header_row']}, {s['rows']} rows"
                    for s in report["estate_sheets"]] or [f"sheet {report['sheet']}, header row {report['header_row']}, "
                                                          f"{report['rows']} rows"]
            self.stdout.write(f"{path.name}: {'; '.join(read)}")
            self.stdout.write(f"created {report['created']}, updated {report['updated']}, unchanged "
                              f"{report['unchanged']}, skipped {report['skipped']} ({what} written)")
            for kind, sheet in report.get("further_sheets", {}).items():
                self.stdout.write(f"{kind} (sheet {sheet['sheet']}, {sheet['rows']} rows): created "
                                  f"{report[kind + '_created']}, updated {report[kind + '_updated']}, unchanged "
                                  f"{report[kind + '_unchanged']}")
            for warning in report["warnings"]:
                self.stdout.write(f"warning: {warning}")
            for e in report["errors"]:
                self.stderr.write(f"{e['sheet']}!{e['cell'] or e['row']}\t第{e['row']}行\t{e['column']}\t"
                                  f"{e['value']!r}\t{e['reason']}")
        if report["error_count"] and not valid_only:
            sys.exit(1)


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, default=str)
