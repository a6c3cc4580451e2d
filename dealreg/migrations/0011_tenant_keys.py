# Same-tenant references, declared (see partners 0003). The registrations'
# (tenant, id) index (0010) becomes the unique key the composite foreign
# keys refer to, under the same name; the keys come before the foreign keys.

import django.db.models.deletion
import prm.tenancy.constraints
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('dealreg', '0010_registration_tenant_key'),
        ('partners', '0003_tenant_keys'),
        ('tenancy', '0004_tenant_keys'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='dealregistration',
            name='dealreg_tenant_key',
        ),
        migrations.AlterField(
            model_name='activeclaim',
            name='registration',
            field=models.OneToOneField(db_constraint=False, editable=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='dealreg.dealregistration'),
        ),
        migrations.AlterField(
            model_name='conflict',
            name='direct_opportunity',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='dealreg.directopportunity'),
        ),
        migrations.AlterField(
            model_name='conflict',
            name='other_registration',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='dealreg.dealregistration'),
        ),
        migrations.AlterField(
            model_name='conflict',
            name='registration',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='conflicts', to='dealreg.dealregistration'),
        ),
        migrations.AlterField(
            model_name='dealregistration',
            name='customer_region',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='partners.region'),
        ),
        migrations.AlterField(
            model_name='dealregistration',
            name='partner',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='registrations', to='partners.partner'),
        ),
        migrations.AlterField(
            model_name='extensionrequest',
            name='registration',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='extension_requests', to='dealreg.dealregistration'),
        ),
        migrations.AlterField(
            model_name='registrationevent',
            name='registration',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='dealreg.dealregistration'),
        ),
        migrations.AlterField(
            model_name='slamark',
            name='registration',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='dealreg.dealregistration'),
        ),
        migrations.AlterField(
            model_name='tierprotection',
            name='tier',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='partners.tier'),
        ),
        migrations.AddConstraint(
            model_name='dealregistration',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='dealreg_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='directopportunity',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='directopp_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='activeclaim',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='registration', name='activeclaim_registration_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='conflict',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='registration', name='conflict_registration_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='conflict',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='other_registration', name='conflict_other_registration_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='conflict',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='direct_opportunity', name='conflict_direct_opportunity_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='dealregistration',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='dealreg_partner_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='dealregistration',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='customer_region', name='dealreg_customer_region_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='extensionrequest',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='registration', name='extension_registration_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='registrationevent',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='registration', name='regevent_registration_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='slamark',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='registration', name='slamark_registration_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='tierprotection',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='tier', name='tierprotection_tier_tenant_fk'),
        ),
    ]
