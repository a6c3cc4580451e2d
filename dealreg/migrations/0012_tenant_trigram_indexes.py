# The conflict check's name searches, by index led with the tenant
# (btree_gin): a trigram index alone holds every tenant's names, so a small
# tenant's search walked and rechecked a large tenant's candidates too. The
# new indexes are built beside the old ones without blocking writes
# (registrations keep being submitted and decided), then the old ones go.

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import (
    AddIndexConcurrently,
    BtreeGinExtension,
    RemoveIndexConcurrently,
)
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # concurrent index builds

    dependencies = [
        ("dealreg", "0011_tenant_keys"),
        ("tenancy", "0002_notification"),
    ]

    operations = [
        BtreeGinExtension(),
        AddIndexConcurrently(
            model_name="activeclaim",
            index=django.contrib.postgres.indexes.GinIndex(
                fastupdate=False,
                fields=["tenant", "customer_name_normalized"],
                name="activeclaim_tenant_name_trgm",
                opclasses=["uuid_ops", "gin_trgm_ops"],
            ),
        ),
        AddIndexConcurrently(
            model_name="directopportunity",
            index=django.contrib.postgres.indexes.GinIndex(
                condition=models.Q(
                    ("stage__in", ["prospecting", "qualification", "proposal", "negotiation"])
                ),
                fastupdate=False,
                fields=["tenant", "customer_name_normalized"],
                name="directopp_tenant_name_trgm",
                opclasses=["uuid_ops", "gin_trgm_ops"],
            ),
        ),
        RemoveIndexConcurrently(
            model_name="activeclaim",
            name="activeclaim_name_trgm",
        ),
        RemoveIndexConcurrently(
            model_name="directopportunity",
            name="directopp_name_trgm",
        ),
    ]
