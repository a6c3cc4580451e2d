# The registrations' plain tenant index becomes (tenant, id): it serves the
# same lookups and lets incentives' reference checks (0004) stay in the index.
# The new index is built before the old one is dropped.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('dealreg', '0009_active_claims'),
        ('partners', '0002_initial'),
        ('tenancy', '0002_notification'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='dealregistration',
            index=models.Index(fields=['tenant', 'id'], name='dealreg_tenant_key'),
        ),
        migrations.AlterField(
            model_name='dealregistration',
            name='tenant',
            field=models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.tenant'),
        ),
    ]
