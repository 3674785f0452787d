"""The seed's three-year action plan period (2020-2022) as the default."""

from django.db import migrations


def add_default_period(apps, schema_editor):
    PlanPeriod = apps.get_model("plans", "PlanPeriod")
    if not PlanPeriod.objects.exists():
        PlanPeriod.objects.create(start_year=2020, end_year=2022, name="2020-2022", is_default=True)


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]
    operations = [migrations.RunPython(add_default_period, migrations.RunPython.noop)]
