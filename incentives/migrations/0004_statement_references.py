# The ledger's and the accrual states' references to tenant data are checked
# once per statement instead of by PostgreSQL's per-row foreign-key triggers.
#
# A foreign key checks every inserted row on its own: a query per row and a
# FOR KEY SHARE lock on the row it points at, which writes to that row's page
# (on a million accruals, each pointing at its own deal, that is most of the
# insert's cost: see bench-payouts). Here an AFTER INSERT ... FOR EACH
# STATEMENT trigger checks all of a statement's rows in one query per
# reference, and the row pointed at must belong to the same tenant, which a
# foreign key cannot say.
#
# Instead of row locks, a reference and a delete of what it points at are kept
# apart by a transaction-level advisory lock per (referenced table, tenant):
# inserts take it shared, then check; deletes (and changes of id or tenant) of
# the referenced rows take it exclusively, then look for references. Each
# check runs on a snapshot taken after its lock, so whichever of the two
# comes second sees what the first committed, as with a foreign key. That
# needs READ COMMITTED (a later statement sees later commits), the
# application's level: both triggers refuse to run at another.
#
# TRUNCATE of a referenced table does not fire them: it is the database
# owner's maintenance, as for the append-only trigger (0002).

import django.db.models.deletion
from django.db import migrations, models


LOCK_PREFIX = "prm:references:"

SQL = f"""
CREATE FUNCTION prm_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
-- AFTER INSERT ... FOR EACH STATEMENT, REFERENCING NEW TABLE AS new_rows.
-- Arguments, in threes: the column, the table it points at, and that
-- table's tenant column (id for the tenant table itself).
DECLARE
    i int := 0;
    summary text := 'SELECT array_agg(DISTINCT tenant_id ORDER BY tenant_id), ARRAY[0';
    tenants uuid[];
    used bigint[];
    tenant uuid;
    missing record;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'the references of % are checked at READ COMMITTED only, not %',
            TG_TABLE_NAME, upper(current_setting('transaction_isolation'))
            USING ERRCODE = 'feature_not_supported';
    END IF;
    -- One pass over the rows: their tenants, and how many set each reference
    -- (most are NULL on most rows: those cost nothing more).
    WHILE i < TG_NARGS LOOP
        summary := summary || format(', count(%I)', TG_ARGV[i]);
        i := i + 3;
    END LOOP;
    EXECUTE summary || '] FROM new_rows' INTO tenants, used;
    i := 0;
    WHILE i < TG_NARGS LOOP
        IF used[i / 3 + 2] > 0 THEN
            FOREACH tenant IN ARRAY tenants LOOP
                PERFORM pg_advisory_xact_lock_shared(
                    hashtextextended('{LOCK_PREFIX}' || TG_ARGV[i + 1] || ':' || tenant, 0));
            END LOOP;
            IF TG_ARGV[i] = 'tenant_id' THEN
                EXECUTE format(
                    'SELECT w.ref AS tenant_id, w.ref FROM unnest($1) AS w (ref)
                     WHERE NOT EXISTS (SELECT 1 FROM %I t WHERE t.id = w.ref) LIMIT 1',
                    TG_ARGV[i + 1]) INTO missing USING tenants;
            ELSE
                EXECUTE format(
                    'SELECT w.tenant_id, w.ref FROM
                        (SELECT DISTINCT tenant_id, %1$I AS ref FROM new_rows
                         WHERE %1$I IS NOT NULL) w
                     WHERE NOT EXISTS
                        (SELECT 1 FROM %2$I t WHERE t.id = w.ref AND t.%3$I = w.tenant_id)
                     LIMIT 1',
                    TG_ARGV[i], TG_ARGV[i + 1], TG_ARGV[i + 2]) INTO missing;
            END IF;
            IF missing.ref IS NOT NULL THEN
                RAISE EXCEPTION '%.% refers to % in %, which does not exist in tenant %',
                    TG_TABLE_NAME, TG_ARGV[i], missing.ref, TG_ARGV[i + 1], missing.tenant_id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
        END IF;
        i := i + 3;
    END LOOP;
    RETURN NULL;
END $$;

CREATE FUNCTION prm_refuse_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
-- AFTER DELETE ... FOR EACH STATEMENT (REFERENCING OLD TABLE AS old_rows), or
-- AFTER UPDATE OF the id or tenant ... FOR EACH ROW. Arguments: this table's
-- tenant column, then in pairs the tables and columns that point at it.
DECLARE
    gone text;
    i int := 1;
    lock_key bigint;
    still uuid;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'rows of % are deleted or rekeyed at READ COMMITTED only, not %',
            TG_TABLE_NAME, upper(current_setting('transaction_isolation'))
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF TG_LEVEL = 'ROW' THEN
        gone := format('(VALUES (%L::uuid, %L::uuid)) AS gone (id, tenant)',
                       OLD.id, to_jsonb(OLD) ->> TG_ARGV[0]);
    ELSE
        gone := format('(SELECT id, %I AS tenant FROM old_rows) AS gone', TG_ARGV[0]);
    END IF;
    FOR lock_key IN EXECUTE format(
        'SELECT DISTINCT hashtextextended(%L || tenant::text, 0) FROM %s ORDER BY 1',
        '{LOCK_PREFIX}' || TG_TABLE_NAME || ':', gone)
    LOOP
        PERFORM pg_advisory_xact_lock(lock_key);
    END LOOP;
    WHILE i < TG_NARGS LOOP
        EXECUTE format(
            'SELECT gone.id FROM %s WHERE EXISTS (SELECT 1 FROM %I r WHERE r.%I = gone.id) LIMIT 1',
            gone, TG_ARGV[i], TG_ARGV[i + 1]) INTO still;
        IF still IS NOT NULL THEN
            RAISE EXCEPTION '% % is still referenced from %.%', TG_TABLE_NAME, still,
                TG_ARGV[i], TG_ARGV[i + 1]
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Ledger entries and accrual states keep what they point at.';
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NULL;
END $$;
"""

# (table, its references as (column, table pointed at, that table's tenant column))
REFERENCING = {
    "incentives_ledgerentry": [
        ("tenant_id", "tenancy_tenant", "id"),
        ("partner_id", "partners_partner", "tenant_id"),
        ("registration_id", "dealreg_dealregistration", "tenant_id"),
        ("plan_version_id", "incentives_planversion", "tenant_id"),
        ("dispute_id", "incentives_dispute", "tenant_id"),
        ("payout_run_id", "incentives_payoutrun", "tenant_id"),
        ("reverses_id", "incentives_ledgerentry", "tenant_id"),
    ],
    "incentives_dealaccrualstate": [
        ("tenant_id", "tenancy_tenant", "id"),
        ("registration_id", "dealreg_dealregistration", "tenant_id"),
    ],
}

REFERENCED: dict = {}  # table -> (tenant column, [(referencing table, column)])
for _table, _references in REFERENCING.items():
    args = ", ".join(f"'{part}'" for ref in _references for part in ref)
    SQL += f"""
CREATE TRIGGER {_table}_references
    AFTER INSERT ON {_table} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION prm_check_references({args});
"""
    for _column, _target, _tenant in _references:
        if _target != "incentives_ledgerentry":  # append-only: never deleted
            REFERENCED.setdefault(_target, (_tenant, []))[1].append((_table, _column))

REVERSE = ""
for _target, (_tenant, _sources) in REFERENCED.items():
    args = ", ".join(f"'{part}'" for part in (_tenant, *(p for s in _sources for p in s)))
    keys = "id" if _tenant == "id" else f"id, {_tenant}"
    changed = " OR ".join(f"OLD.{k} IS DISTINCT FROM NEW.{k}" for k in keys.split(", "))
    SQL += f"""
CREATE TRIGGER prm_referenced_delete
    AFTER DELETE ON {_target} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION prm_refuse_referenced({args});
CREATE TRIGGER prm_referenced_rekey
    AFTER UPDATE OF {keys} ON {_target}
    FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION prm_refuse_referenced({args});
"""
    REVERSE += f"""
DROP TRIGGER prm_referenced_rekey ON {_target};
DROP TRIGGER prm_referenced_delete ON {_target};
"""
for _table in REFERENCING:
    REVERSE += f"DROP TRIGGER {_table}_references ON {_table};\n"
REVERSE += """
DROP FUNCTION prm_refuse_referenced();
DROP FUNCTION prm_check_references();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('dealreg', '0009_active_claims'),
        ('incentives', '0003_lean_ledger_indexes'),
        ('partners', '0002_initial'),
        ('tenancy', '0002_notification'),
    ]

    operations = [
        migrations.AlterField(
            model_name='dealaccrualstate',
            name='registration',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='accrual_state', to='dealreg.dealregistration'),
        ),
        migrations.AlterField(
            model_name='dealaccrualstate',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='dispute',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='incentives.dispute'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='partner',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_entries', to='partners.partner'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='payout_run',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='incentives.payoutrun'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='plan_version',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='incentives.planversion'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='registration',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='dealreg.dealregistration'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='reverses',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reversed_by', to='incentives.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant'),
        ),
        migrations.RunSQL(SQL, REVERSE),
    ]
