from django.core.management.base import BaseCommand, CommandError

from gaizao.core.errors import ServiceError
from gaizao.regions.services import DEFAULT_REGION_FILES, regions_load
from gaizao.regions.setup import defaults_setup


class Command(BaseCommand):
    help = ("Load a region tree from CSV (code,name,level,parent_code[,is_active,successor_codes,note]), then "
            "store the province default rules and plan period where missing; idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="CSV files; default: the shipped Zhejiang tree and its retired codes")

    def handle(self, *args, files, **options):
        try:
            result = regions_load(actor=None, paths=files or list(DEFAULT_REGION_FILES), cause="gaizao load-regions")
        except ServiceError as exc:
            lines = [exc.message]
            for row in exc.fields.get("rows", [])[:50]:
                lines.append(f"  {row.get('file', '')} row {row['row']}, column {row['column']} "
                             f"({row['value']!r}): {row['reason']}")
            raise CommandError("\n".join(lines)) from None
        self.stdout.write(f"regions: {result.created} created, {result.updated} updated, "
                          f"{result.unchanged} unchanged ({', '.join(result.files)})")
        made = defaults_setup(actor=None, cause="gaizao load-regions")
        if made:
            self.stdout.write(f"defaults: {len(made)} created ({', '.join(sorted({m._meta.model_name for m in made}))})")
