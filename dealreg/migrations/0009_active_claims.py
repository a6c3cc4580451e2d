# Conflict checks search customer names in a narrow table of the active
# registrations (ActiveClaim) instead of a partial trigram index on the
# registrations: see the model. Triggers keep it; the backfill copies the
# registrations active now; the index is built after the backfill.

import django.contrib.postgres.indexes
import django.db.models.deletion
from django.db import migrations, models

# DealRegistration.ACTIVE (a test compares them).
ACTIVE = "('submitted', 'more_info_requested', 'approved')"

TRIGGERS = f"""
CREATE FUNCTION dealreg_sync_active_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN {ACTIVE} THEN
        INSERT INTO dealreg_activeclaim (registration_id, tenant_id, customer_name_normalized)
        VALUES (NEW.id, NEW.tenant_id, NEW.customer_name_normalized)
        ON CONFLICT (registration_id) DO UPDATE
        SET customer_name_normalized = EXCLUDED.customer_name_normalized
        WHERE dealreg_activeclaim.customer_name_normalized
              IS DISTINCT FROM EXCLUDED.customer_name_normalized;
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM dealreg_activeclaim WHERE registration_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER dealreg_active_claim_insert
    AFTER INSERT ON dealreg_dealregistration
    FOR EACH ROW WHEN (NEW.status IN {ACTIVE})
    EXECUTE FUNCTION dealreg_sync_active_claim();
CREATE TRIGGER dealreg_active_claim_update
    AFTER UPDATE OF status, customer_name_normalized ON dealreg_dealregistration
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status
        OR OLD.customer_name_normalized IS DISTINCT FROM NEW.customer_name_normalized)
    EXECUTE FUNCTION dealreg_sync_active_claim();
INSERT INTO dealreg_activeclaim (registration_id, tenant_id, customer_name_normalized)
SELECT id, tenant_id, customer_name_normalized FROM dealreg_dealregistration
WHERE status IN {ACTIVE};
"""

DROP_TRIGGERS = """
DROP TRIGGER dealreg_active_claim_update ON dealreg_dealregistration;
DROP TRIGGER dealreg_active_claim_insert ON dealreg_dealregistration;
DROP FUNCTION dealreg_sync_active_claim();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("dealreg", "0008_registration_fillfactor"),
        ("tenancy", "0002_notification"),
    ]

    operations = [
        migrations.CreateModel(
            name="ActiveClaim",
            fields=[
                (
                    "registration",
                    models.OneToOneField(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="dealreg.dealregistration",
                    ),
                ),
                ("customer_name_normalized", models.CharField(editable=False, max_length=200)),
                (
                    "tenant",
                    models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.tenant",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
        migrations.AddIndex(
            model_name="activeclaim",
            index=django.contrib.postgres.indexes.GinIndex(
                fastupdate=False,
                fields=["customer_name_normalized"],
                name="activeclaim_name_trgm",
                opclasses=["gin_trgm_ops"],
            ),
        ),
        migrations.RemoveIndex(
            model_name="dealregistration",
            name="dealreg_name_trgm",
        ),
    ]
