"""`gaizao census-cleanup`: delete stored census uploads older than CENSUS_UPLOAD_RETENTION_HOURS.

Files that a queued or running import job still needs are kept. Each deletion is stamped in the
params of the jobs that used the file and audited as the system. Safe to run from cron at any time;
new uploads run the same cleanup in passing.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from gaizao.estates.census.jobs import census_uploads_cleanup


class Command(BaseCommand):
    help = "Delete stored census uploads older than the retention (CENSUS_UPLOAD_RETENTION_HOURS) " \
           "unless a queued or running import job needs them."

    def handle(self, *args, **options):
        outcome = census_uploads_cleanup()
        for path in outcome["deleted"]:
            self.stdout.write(f"deleted {path}")
        self.stdout.write(f"deleted {len(outcome['deleted'])} uploads older than "
                          f"{settings.CENSUS_UPLOAD_RETENTION_HOURS} h; kept {outcome['kept_in_use']} of queued or "
                          f"running jobs and {outcome['kept_recent']} recent")
