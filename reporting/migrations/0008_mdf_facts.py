"""Market development funds' facts in the rollups (``mdf.facts``), and
incentives outstanding without MDF reimbursements (``booked_incentives``):
derived data, zero for MDF (no MDF data exists before this migration) and, for
incentives, booked as it stood (no reimbursement was booked before it)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0007_partner_ids"),
    ]

    operations = [
        migrations.AddField(
            model_name="partnerday",
            name="booked_incentives",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="mdf_allocated",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="mdf_allocated_claimed",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="mdf_claimed",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="mdf_paid",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="mdf_roi_won",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="mdf_spend",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="booked_incentives",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="mdf_allocated",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="mdf_allocated_claimed",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="mdf_claimed",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="mdf_paid",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="mdf_roi_won",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="mdf_spend",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="booked_incentives",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="mdf_allocated",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="mdf_allocated_claimed",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="mdf_claimed",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="mdf_paid",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="mdf_roi_won",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="mdf_spend",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=20),
        ),
        migrations.RunSQL(
            "UPDATE reporting_partnerday SET booked_incentives = booked WHERE booked <> 0;"
            "UPDATE reporting_segmentday SET booked_incentives = booked WHERE booked <> 0;"
            "UPDATE reporting_segmenttotal SET booked_incentives = booked WHERE booked <> 0;",
            migrations.RunSQL.noop,
        ),
    ]
