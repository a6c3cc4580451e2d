# The conflict check's trigram indexes without a GIN pending list: each
# search otherwise reads every entry inserted since the last vacuum (up to
# gin_pending_list_limit, 4 MB). A storage parameter, so the indexes are
# altered in place (and their pending lists merged) instead of rebuilt.

import django.contrib.postgres.indexes
from django.db import migrations, models

INDEXES = ("dealreg_name_trgm", "directopp_name_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("dealreg", "0006_reversal"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=[
                        statement
                        for name in INDEXES
                        for statement in (
                            f"ALTER INDEX {name} SET (fastupdate = off)",
                            f"SELECT gin_clean_pending_list('{name}'::regclass)",
                        )
                    ],
                    reverse_sql=[f"ALTER INDEX {name} RESET (fastupdate)" for name in INDEXES],
                ),
            ],
            state_operations=[
                migrations.RemoveIndex(
                    model_name="dealregistration",
                    name="dealreg_name_trgm",
                ),
                migrations.RemoveIndex(
                    model_name="directopportunity",
                    name="directopp_name_trgm",
                ),
                migrations.AddIndex(
                    model_name="dealregistration",
                    index=django.contrib.postgres.indexes.GinIndex(
                        condition=models.Q(
                            ("status__in", ["submitted", "more_info_requested", "approved"])
                        ),
                        fastupdate=False,
                        fields=["customer_name_normalized"],
                        name="dealreg_name_trgm",
                        opclasses=["gin_trgm_ops"],
                    ),
                ),
                migrations.AddIndex(
                    model_name="directopportunity",
                    index=django.contrib.postgres.indexes.GinIndex(
                        condition=models.Q(
                            (
                                "stage__in",
                                ["prospecting", "qualification", "proposal", "negotiation"],
                            )
                        ),
                        fastupdate=False,
                        fields=["customer_name_normalized"],
                        name="directopp_name_trgm",
                        opclasses=["gin_trgm_ops"],
                    ),
                ),
            ],
        ),
    ]
