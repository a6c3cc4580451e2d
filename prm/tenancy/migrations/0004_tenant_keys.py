# Memberships and invitations may name only a partner of their own tenant:
# composite foreign keys on (tenant_id, partner_id) (partners 0003 adds the
# partners' (tenant_id, id) key) instead of the column's own.

import django.db.models.deletion
import prm.tenancy.constraints
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('partners', '0003_tenant_keys'),
        ('tenancy', '0003_auditentry_once_key'),
    ]

    operations = [
        migrations.AlterField(
            model_name='invitation',
            name='partner',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='partners.partner'),
        ),
        migrations.AlterField(
            model_name='membership',
            name='partner',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='partners.partner'),
        ),
        migrations.AddConstraint(
            model_name='invitation',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='invitation_partner_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=prm.tenancy.constraints.TenantForeignKey(field='partner', name='membership_partner_tenant_fk'),
        ),
    ]
