# Same-tenant references, declared: every reference between partners' tenant
# data becomes a composite foreign key on (tenant_id, id)
# (prm.tenancy.constraints.TenantForeignKey) in place of the column's own
# foreign key, and the rows pointed at get UNIQUE (tenant_id, id) for it.
# The keys are added before the foreign keys that need them.

import django.db.models.deletion
import prm.tenancy.constraints
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('partners', '0002_initial'),
        ('tenancy', '0002_notification'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='contact',
            name='partner',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='partners.partner'),
        ),
        migrations.AlterField(
            model_name='partner',
            name='region',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='partners', to='partners.region'),
        ),
        migrations.AlterField(
            model_name='partner',
            name='tier',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='partners', to='partners.tier'),
        ),
        migrations.AddConstraint(
            model_name='partner',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='partner_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='region',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='region_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='tier',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='tier_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='contact',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='contact_partner_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='partner',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='region', name='partner_region_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='partner',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='tier', name='partner_tier_tenant_fk'),
        ),
    ]
