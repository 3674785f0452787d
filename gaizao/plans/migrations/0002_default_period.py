"""Formerly made the seed's default plan period (2020-2022) here, without an audit row. The period is now
made by the audited set-up step that `gaizao load-regions` runs (`plans.services.defaults_setup`), so this
migration does nothing on new databases; databases that ran it keep their period."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]
    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
