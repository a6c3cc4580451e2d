"""The rollups keep a partner's id as a copy, like their dimensions, not as a
reference (a deleted partner's past levels still count). The rollups are
derived data: emptied here, recreated by ``reporting.rollups.rebuild``."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reporting", "0006_partner_covering_index")]

    operations = [
        migrations.RunSQL(
            "DELETE FROM reporting_measurementday; DELETE FROM reporting_partnerday;",
            migrations.RunSQL.noop,
        ),
        migrations.RemoveIndex(model_name="partnerday", name="partnerday_partner"),
        # It includes the partner's column, which is dropped and added again.
        migrations.RemoveIndex(model_name="partnerday", name="partnerday_revenue"),
        migrations.RemoveConstraint(model_name="partnerday", name="partnerday_unique"),
        migrations.RemoveIndex(model_name="measurementday", name="measurement_partner"),
        migrations.RemoveField(model_name="partnerday", name="partner"),
        migrations.RemoveField(model_name="measurementday", name="partner"),
        migrations.AddField(
            model_name="partnerday", name="partner_id", field=models.UUIDField(null=True)
        ),
        migrations.AddField(
            model_name="measurementday",
            name="partner_id",
            field=models.UUIDField(default="00000000-0000-0000-0000-000000000000"),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name="partnerday",
            index=models.Index(
                fields=["tenant", "partner_id", "day"],
                include=["won_revenue", "won", "closed", "submitted", "open_pipeline"],
                name="partnerday_partner",
            ),
        ),
        migrations.AddIndex(
            model_name="partnerday",
            index=models.Index(
                condition=models.Q(("won_revenue", 0), _negated=True),
                fields=["tenant", "day"],
                include=[
                    "partner_id",
                    "won_revenue",
                    "region_id",
                    "tier_id",
                    "partner_type",
                    "channel_manager_id",
                ],
                name="partnerday_revenue",
            ),
        ),
        migrations.AddConstraint(
            model_name="partnerday",
            constraint=models.UniqueConstraint(
                fields=[
                    "tenant",
                    "partner_id",
                    "day",
                    "region_id",
                    "tier_id",
                    "partner_type",
                    "channel_manager_id",
                ],
                nulls_distinct=False,
                name="partnerday_unique",
            ),
        ),
        migrations.AddIndex(
            model_name="measurementday",
            index=models.Index(
                fields=["tenant", "partner_id", "series", "day"], name="measurement_partner"
            ),
        ),
    ]
