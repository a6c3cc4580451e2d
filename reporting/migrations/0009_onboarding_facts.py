"""Onboarding's facts in the rollups (``onboarding.facts``): derived data. Plans
and steps exist only from the onboarding app's release, but every partner has an
enrollment (the day it was added, without a plan) that the activation rate counts:
each tenant is marked stale as a whole, so the next refresh (beat) rebuilds its
rollups with them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0008_mdf_facts"),
    ]

    operations = [
        migrations.AddField(
            model_name="partnerday",
            name="onboarding_activated",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="onboarding_enrolled",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="onboarding_on_target",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="onboarding_started",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="onboarding_steps_due",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="onboarding_steps_on_time",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="onboarding_activated",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="onboarding_enrolled",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="onboarding_on_target",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="onboarding_started",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="onboarding_steps_due",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="onboarding_steps_on_time",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="onboarding_activated",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="onboarding_enrolled",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="onboarding_on_target",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="onboarding_started",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="onboarding_steps_due",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="onboarding_steps_on_time",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="onboarding_stalled_delta",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmentday",
            name="onboarding_stalled_delta",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="segmenttotal",
            name="onboarding_stalled_delta",
            field=models.IntegerField(default=0),
        ),
        migrations.RunSQL(
            "INSERT INTO reporting_stalepartner (tenant_id, partner_id, everything, since) "
            "SELECT id, NULL, true, now() FROM tenancy_tenant ON CONFLICT DO NOTHING;",
            migrations.RunSQL.noop,
        ),
    ]
