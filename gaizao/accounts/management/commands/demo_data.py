import time

from django.core.management.base import BaseCommand

from gaizao.accounts.demo import DEMO_PASSWORD, demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo users, one per role, on real regions, and demo estates (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=["small", "province", "national"], default="small",
                            help="small: ~560 estates; province: ~12,000 in Zhejiang; national: 220,000")
        parser.add_argument("--no-estates", action="store_true", help="only the demo users")
        parser.add_argument("--write-census", metavar="FILE.xlsx",
                            help="write the scale's generated estates as a census sheet and load nothing")

    def handle(self, *args, **options):
        if options.get("write_census"):
            from gaizao.estates.census.demo import write_census
            from gaizao.estates.generator import generate_rows

            started = time.monotonic()
            count = write_census(generate_rows(options["scale"]), options["write_census"])
            self.stdout.write(f"{options['write_census']}: {count} estates ({time.monotonic() - started:.1f} s)")
            return
        rows = demo_users_ensure()
        self.stdout.write(f"demo users (password {DEMO_PASSWORD}):")
        for username, role, place in rows:
            self.stdout.write(f"  {username:<14} {role:<20} {place}")
        if not options["no_estates"]:
            from gaizao.estates.generator import demo_estates_ensure

            started = time.monotonic()
            summary = demo_estates_ensure(options["scale"])
            self.stdout.write(
                f"demo estates ({options['scale']}): {summary['created']} created, {summary['updated']} updated, "
                f"{summary['unchanged']} unchanged; {summary['estates_total']} in all "
                f"({time.monotonic() - started:.1f} s)")
            from gaizao.plans.demo import demo_plans_ensure

            plans = demo_plans_ensure()
            self.stdout.write(f"demo plans: {plans['plans']} county plans ({plans['items']} items), "
                              f"{plans['budgets']} budgets, {plans['reports']} monthly reports")
