# Registrations are updated in place often (a conflict check flags the
# registrations it conflicts with; decisions, reminders, outcomes): with 10%
# of each page kept free, an update that changes no indexed column (such as
# conflict_state) stays on its page, a heap-only update, instead of adding an
# entry to each of the table's seventeen indexes. Applies to pages written
# from now on (rows inserted, or moved by an update); a table rewrite (VACUUM
# FULL, pg_repack) applies it to the existing ones.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dealreg", "0007_trigram_fastupdate_off"),
    ]

    operations = [
        migrations.RunSQL(
            sql="ALTER TABLE dealreg_dealregistration SET (fillfactor = 90)",
            reverse_sql="ALTER TABLE dealreg_dealregistration RESET (fillfactor)",
        ),
    ]
