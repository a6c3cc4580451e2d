# The ledger's and the accrual states' references become composite foreign
# keys on (tenant_id, id), as every other reference between tenant data:
# the same-tenant rule declared, checked on every INSERT and UPDATE (0004's
# statement triggers missed an UPDATE of an accrual state's registration),
# at any isolation level, with a row lock on what is pointed at instead of a
# tenant-wide advisory lock. 0004's triggers and functions are dropped; the
# append-only trigger (0002) stays. The keys come before the foreign keys.

import importlib

import django.db.models.deletion
import prm.tenancy.constraints
from django.conf import settings
from django.db import migrations, models


# 0004's triggers and functions: dropped here, created again on the way back.
_0004 = importlib.import_module("incentives.migrations.0004_statement_references")


class Migration(migrations.Migration):

    dependencies = [
        ('dealreg', '0011_tenant_keys'),
        ('incentives', '0004_statement_references'),
        ('partners', '0003_tenant_keys'),
        ('tenancy', '0004_tenant_keys'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(_0004.REVERSE, _0004.SQL),
        migrations.AlterField(
            model_name='bracket',
            name='version',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='brackets', to='incentives.planversion'),
        ),
        migrations.AlterField(
            model_name='dispute',
            name='adjustment',
            field=models.OneToOneField(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='incentives.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='dispute',
            name='entry',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='disputes', to='incentives.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='dispute',
            name='partner',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='disputes', to='partners.partner'),
        ),
        migrations.AlterField(
            model_name='disputemessage',
            name='dispute',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='incentives.dispute'),
        ),
        migrations.AlterField(
            model_name='payoutline',
            name='partner',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='partners.partner'),
        ),
        migrations.AlterField(
            model_name='payoutline',
            name='payout_entry',
            field=models.OneToOneField(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='incentives.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='payoutline',
            name='run',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='incentives.payoutrun'),
        ),
        migrations.AlterField(
            model_name='planversion',
            name='plan',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='versions', to='incentives.plan'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='entry',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='settlement', to='incentives.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='partner',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='partners.partner'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='payout',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='settles', to='incentives.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='run',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='incentives.payoutrun'),
        ),
        migrations.AlterField(
            model_name='statement',
            name='partner',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='statements', to='partners.partner'),
        ),
        migrations.AddConstraint(
            model_name='dispute',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='dispute_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='ledgerentry_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='payoutrun',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='payoutrun_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='plan',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='plan_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='planversion',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='planversion_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='bracket',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='version', name='bracket_version_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='dealaccrualstate',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='registration', name='accrualstate_registration_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='dispute',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='dispute_partner_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='dispute',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='entry', name='dispute_entry_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='dispute',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='adjustment', name='dispute_adjustment_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='disputemessage',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='dispute', name='disputemessage_dispute_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='ledgerentry_partner_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='registration', name='ledgerentry_registration_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='plan_version', name='ledgerentry_plan_version_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='dispute', name='ledgerentry_dispute_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='payout_run', name='ledgerentry_payout_run_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='reverses', name='ledgerentry_reverses_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='payoutline',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='run', name='payoutline_run_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='payoutline',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='payoutline_partner_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='payoutline',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='payout_entry', name='payoutline_payout_entry_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='planversion',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='plan', name='planversion_plan_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='settlement',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='entry', name='settlement_entry_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='settlement',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='payout', name='settlement_payout_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='settlement',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='run', name='settlement_run_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='settlement',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='settlement_partner_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='statement',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='statement_partner_tenant_fk'),
        ),
    ]
