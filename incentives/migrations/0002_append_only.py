"""The database itself refuses changes to the ledger and to rules that have
produced entries: code that bypasses the models (a shell, raw SQL, a bug)
cannot rewrite what a partner was paid or why. TRUNCATE is left to the
database owner's maintenance (test databases are emptied that way)."""

from django.db import migrations

RULE_COLUMNS = (
    "plan_id",
    "effective_from",
    "rate_type",
    "rate_percent",
    "fixed_amount",
    "period",
    "quota",
    "accelerator",
    "cap_per_deal",
    "cap_per_period",
    "partner_types",
)
CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in RULE_COLUMNS)

SQL = f"""
CREATE FUNCTION incentives_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'incentives_ledgerentry is append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'Write a reversing or adjusting entry instead.';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER incentives_ledger_append_only
    BEFORE UPDATE OR DELETE ON incentives_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION incentives_ledger_append_only();

-- A version that has produced an entry keeps its rule: TG_ARGV[0] names the
-- column holding the version id.
CREATE FUNCTION incentives_version_frozen() RETURNS trigger AS $$
DECLARE
    version_id uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        version_id := (to_jsonb(NEW) ->> TG_ARGV[0])::uuid;
    ELSE
        version_id := (to_jsonb(OLD) ->> TG_ARGV[0])::uuid;
    END IF;
    IF EXISTS (SELECT 1 FROM incentives_ledgerentry WHERE plan_version_id = version_id) THEN
        RAISE EXCEPTION 'plan version % has ledger entries; its rule cannot change', version_id
            USING ERRCODE = 'restrict_violation',
                  HINT = 'Create a new version with a later effective date.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER incentives_version_rule_frozen
    BEFORE UPDATE ON incentives_planversion
    FOR EACH ROW WHEN ({CHANGED})
    EXECUTE FUNCTION incentives_version_frozen('id');
CREATE TRIGGER incentives_version_delete_frozen
    BEFORE DELETE ON incentives_planversion
    FOR EACH ROW EXECUTE FUNCTION incentives_version_frozen('id');
CREATE TRIGGER incentives_bracket_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON incentives_bracket
    FOR EACH ROW EXECUTE FUNCTION incentives_version_frozen('version_id');
CREATE TRIGGER incentives_version_tiers_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON incentives_planversion_tiers
    FOR EACH ROW EXECUTE FUNCTION incentives_version_frozen('planversion_id');
CREATE TRIGGER incentives_version_regions_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON incentives_planversion_regions
    FOR EACH ROW EXECUTE FUNCTION incentives_version_frozen('planversion_id');
CREATE TRIGGER incentives_version_products_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON incentives_planversion_product_lines
    FOR EACH ROW EXECUTE FUNCTION incentives_version_frozen('planversion_id');
"""

REVERSE = """
DROP TRIGGER incentives_version_products_frozen ON incentives_planversion_product_lines;
DROP TRIGGER incentives_version_regions_frozen ON incentives_planversion_regions;
DROP TRIGGER incentives_version_tiers_frozen ON incentives_planversion_tiers;
DROP TRIGGER incentives_bracket_frozen ON incentives_bracket;
DROP TRIGGER incentives_version_delete_frozen ON incentives_planversion;
DROP TRIGGER incentives_version_rule_frozen ON incentives_planversion;
DROP FUNCTION incentives_version_frozen();
DROP TRIGGER incentives_ledger_append_only ON incentives_ledgerentry;
DROP FUNCTION incentives_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("incentives", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
