from django.core.management.base import BaseCommand

from gaizao.accounts.demo import DEMO_PASSWORD, demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo users, one per role, on real regions (idempotent)."

    def handle(self, *args, **options):
        rows = demo_users_ensure()
        self.stdout.write(f"demo users (password {DEMO_PASSWORD}):")
        for username, role, place in rows:
            self.stdout.write(f"  {username:<14} {role:<20} {place}")
