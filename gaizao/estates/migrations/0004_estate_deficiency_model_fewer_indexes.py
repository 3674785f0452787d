"""Fewer indexes for the census to maintain: the estate ↔ item link becomes a model of its own
(same table, same columns) whose `estate` column has no index of its own, and the estate loses the
single-column indexes that a composite index already leads with or that no query needs."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('estates', '0003_estate_updated_at_index'),
        ('regions', '0001_initial'),
    ]

    operations = [
        # the table Django made for the plain many-to-many field, described as the explicit model
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='EstateDeficiency',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('estate', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='estates.estate',
                                                 verbose_name='estate')),
                    ('catalogueitem', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                        to='estates.catalogueitem', verbose_name='catalogue item')),
                ],
                options={
                    'verbose_name': 'deficiency',
                    'verbose_name_plural': 'deficiencies',
                    'db_table': 'estates_estate_deficiencies',
                    'unique_together': {('estate', 'catalogueitem')},
                },
            ),
            migrations.AlterField(
                model_name='estate',
                name='deficiencies',
                field=models.ManyToManyField(blank=True, related_name='estates', through='estates.EstateDeficiency',
                                             to='estates.catalogueitem', verbose_name='deficiencies'),
            ),
        ]),
        migrations.AlterField(
            model_name='estatedeficiency',
            name='estate',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='estates.estate',
                                    verbose_name='estate'),
        ),
        migrations.RemoveIndex(
            model_name='estate',
            name='estate_housing_type',
        ),
        migrations.RemoveIndex(
            model_name='estate',
            name='estate_eligibility',
        ),
        migrations.AlterField(
            model_name='estate',
            name='county',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+',
                                    to='regions.region', verbose_name='county'),
        ),
        migrations.AlterField(
            model_name='estate',
            name='region',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name='estates', to='regions.region', verbose_name='region'),
        ),
    ]
