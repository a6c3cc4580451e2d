"""Market development funds' facts in the rollups (``mdf.facts``): derived
data, zero until MDF has data (``reporting.rollups.rebuild`` recomputes them)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0007_partner_ids"),
    ]

    operations = [
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
    ]
