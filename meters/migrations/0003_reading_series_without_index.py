# Drops the index on meters_meterreading.series_id: every index is paid again on each ingested
# reading, and this one only served PROTECT's check when a series is deleted, which
# meters.models.protect_series_with_readings now makes through the unique key instead.

import meters.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("meters", "0002_reading_drop_redundant_fk_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="meterreading",
            name="series",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=meters.models.protect_series_with_readings,
                related_name="readings",
                to="meters.meterreadingseries",
            ),
        ),
    ]
