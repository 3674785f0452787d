"""`gaizao census-template OUT.xlsx`: write the census template."""

from django.core.management.base import BaseCommand

from gaizao.estates.census.template import write_template
from gaizao.regions.models import Region


class Command(BaseCommand):
    help = "Write the census spreadsheet template (Chinese headers, lists, one example row)."

    def add_arguments(self, parser):
        parser.add_argument("out")
        parser.add_argument("--county", help="a county code: its name in the list and the example row")

    def handle(self, *args, out, county=None, **options):
        counties = [Region.objects.get(code=county, level="county")] if county else None
        write_template(out, counties=counties)
        self.stdout.write(out)
