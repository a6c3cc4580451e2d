"""Composite foreign keys on ``(tenant_id, id)``: the same-tenant rule, declared.

A ``ForeignKey`` from one tenant-owned model to another checks only that the
row pointed at exists; another tenant's row passes. ``TenantForeignKey``, in
the referencing model's ``Meta.constraints``, makes PostgreSQL check the
pair instead::

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, db_constraint=False)

    class Meta:
        constraints = [TenantForeignKey(field="partner", name="contact_partner_tenant_fk")]

emits ``FOREIGN KEY (tenant_id, partner_id) REFERENCES partners_partner
(tenant_id, id) DEFERRABLE INITIALLY DEFERRED``: the row must exist *in the
same tenant*, for every write path (ORM, bulk COPY, raw SQL, an UPDATE of
the reference or of the tenant), and it cannot be deleted or re-keyed while
pointed at. The model pointed at declares ``tenant_key("name")`` (a unique
constraint on ``(tenant, id)``) for the key to refer to.

Django 5.2 has no composite foreign keys, so the field keeps the Python side
(``on_delete``, joins, forms) with ``db_constraint=False`` and this class
the database side. Like Django's own foreign keys it is deferred to commit
and has no ``ON DELETE`` action: Django's collector does CASCADE, PROTECT and
SET_NULL. A NULL reference satisfies it (MATCH SIMPLE), as a nullable
foreign key should. Validation in Python stays with
``TenantOwned.validate_same_tenant``.
"""

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models.constraints import BaseConstraint

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

TENANT_FIELD = "tenant"


def tenant_key(name: str) -> models.UniqueConstraint:
    """What a ``TenantForeignKey`` refers to: ``UNIQUE (tenant_id, id)``."""
    return models.UniqueConstraint(fields=[TENANT_FIELD, "id"], name=name)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    # ``tenant`` is a concrete ForeignKey on every tenant-owned model.
    assert isinstance(field, models.Field)
    return field.column


class TenantForeignKey(BaseConstraint):
    def __init__(
        self, *, field: str, name: str, violation_error_message: "_StrOrPromise | None" = None
    ) -> None:
        super().__init__(name=name, violation_error_message=violation_error_message)
        self.field = field

    def _sql(self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor) -> str:
        quote = schema_editor.quote_name
        field = model._meta.get_field(self.field)
        # A ForeignKey (OneToOneField included) is what is many-to-one or
        # one-to-one and has a db_constraint to switch off. django-stubs
        # takes db_constraint in ForeignKey.__init__ but declares no attribute.
        if not isinstance(field, models.ForeignKey) or field.db_constraint:  # type: ignore[attr-defined]
            raise ValueError(
                f"{model.__name__}.{self.field}: a TenantForeignKey needs a ForeignKey "
                "with db_constraint=False (the composite key replaces its own)."
            )
        target = field.related_model
        # "self" is replaced by the class once the model is prepared, which
        # it is before any schema editor sees it.
        assert not isinstance(target, str)
        tenant = _column(model, TENANT_FIELD)
        target_tenant = _column(target, TENANT_FIELD)
        return (
            f"CONSTRAINT {quote(self.name)} FOREIGN KEY ({quote(tenant)}, {quote(field.column)})"
            f" REFERENCES {quote(target._meta.db_table)}"
            f" ({quote(target_tenant)}, {quote(target._meta.pk.column)})"
            " DEFERRABLE INITIALLY DEFERRED"
        )

    # The stubs say str; Django's schema editor skips a constraint whose SQL
    # is empty or None, and None is what says "nothing in CREATE TABLE".
    def constraint_sql(  # type: ignore[override]
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> None:
        # In CREATE TABLE the table pointed at may not exist yet: added at
        # the end of the migration, as Django adds its own foreign keys.
        # Django always passes both (the stubs allow None for other callers).
        assert model is not None and schema_editor is not None
        schema_editor.deferred_sql.append(self.create_sql(model, schema_editor))
        return None

    def create_sql(
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> str:
        # Django always passes both (the stubs allow None for other callers).
        assert model is not None and schema_editor is not None
        table = schema_editor.quote_name(model._meta.db_table)
        return f"ALTER TABLE {table} ADD {self._sql(model, schema_editor)}"

    def remove_sql(
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> str:
        # Django always passes both (the stubs allow None for other callers).
        assert model is not None and schema_editor is not None
        table = schema_editor.quote_name(model._meta.db_table)
        return f"ALTER TABLE {table} DROP CONSTRAINT {schema_editor.quote_name(self.name)}"

    def validate(
        self,
        model: type[models.Model],
        instance: models.Model,
        exclude: Collection[str] | None = None,
        using: str | None = None,
    ) -> None:
        # full_clean checks the same rule with a message per field
        # (TenantOwned.validate_same_tenant); the database is the guarantee.
        return None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TenantForeignKey):
            return self.name == other.name and self.field == other.field
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}: field={self.field!r} name={self.name!r}>"

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        path, args, kwargs = super().deconstruct()
        kwargs["field"] = self.field
        return path, args, kwargs


def tenant_foreign_keys(prefix: str, *fields: str) -> list[TenantForeignKey]:
    """One ``TenantForeignKey`` per field, named ``<prefix>_<field>_tenant_fk``."""
    return [TenantForeignKey(field=f, name=f"{prefix}_{f}_tenant_fk") for f in fields]
