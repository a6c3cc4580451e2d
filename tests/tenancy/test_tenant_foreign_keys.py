"""``TenantForeignKey``: the composite foreign key a model declares in its
``Meta.constraints`` (``prm.tenancy.constraints``)."""

import pytest
from django.db import connection, models

from partners.models import Contact
from prm.tenancy.constraints import TenantForeignKey, tenant_foreign_keys

pytestmark = pytest.mark.django_db


def test_it_round_trips_through_migrations():
    key = TenantForeignKey(field="partner", name="contact_partner_tenant_fk")
    path, args, kwargs = key.deconstruct()
    assert path == "prm.tenancy.constraints.TenantForeignKey"
    assert TenantForeignKey(*args, **kwargs) == key
    assert key != TenantForeignKey(field="partner", name="other_name")
    assert key != TenantForeignKey(field="tier", name="contact_partner_tenant_fk")
    assert tenant_foreign_keys("contact", "partner") == [key]


def test_it_writes_a_deferred_composite_foreign_key():
    key = TenantForeignKey(field="partner", name="contact_partner_tenant_fk")
    with connection.schema_editor(collect_sql=True) as editor:
        assert key.create_sql(Contact, editor) == (
            'ALTER TABLE "partners_contact" ADD CONSTRAINT "contact_partner_tenant_fk" '
            'FOREIGN KEY ("tenant_id", "partner_id") REFERENCES "partners_partner" '
            '("tenant_id", "id") DEFERRABLE INITIALLY DEFERRED'
        )
        assert key.remove_sql(Contact, editor) == (
            'ALTER TABLE "partners_contact" DROP CONSTRAINT "contact_partner_tenant_fk"'
        )
        # In CREATE TABLE it waits for the end of the migration (the table
        # pointed at may come later), as Django's own foreign keys do.
        before = len(editor.deferred_sql)
        assert key.constraint_sql(Contact, editor) is None
        assert editor.deferred_sql[before:] == [key.create_sql(Contact, editor)]
        editor.deferred_sql = editor.deferred_sql[:before]


def test_it_refuses_a_field_that_keeps_its_own_key():
    field = Contact._meta.get_field("partner")
    key = TenantForeignKey(field="partner", name="x")
    field.db_constraint = True
    try:
        with (
            connection.schema_editor(collect_sql=True) as editor,
            pytest.raises(ValueError, match="db_constraint=False"),
        ):
            key.create_sql(Contact, editor)
    finally:
        field.db_constraint = False


def test_the_database_has_it_as_declared():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
            ["contact_partner_tenant_fk"],
        )
        assert cursor.fetchone() == (
            "FOREIGN KEY (tenant_id, partner_id) REFERENCES partners_partner(tenant_id, id) "
            "DEFERRABLE INITIALLY DEFERRED",
        )
    assert isinstance(Contact._meta.get_field("partner"), models.ForeignKey)
