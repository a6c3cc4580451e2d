"""Marking rollups stale when the data they are computed from changes.

Each app's ``FactSource.watch`` names the models whose rows its facts are
computed from and which partners a row touches; a save or delete of one
marks those partners stale in the same transaction (``rollups.mark_stale``).
Connected once, in ``ReportingConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.db.models.signals import post_delete, post_save

from prm.tenancy import registry

from .rollups import mark_stale


def _receiver(partners_of: Callable[[Any], Iterable[Any]]) -> Callable[..., None]:
    def changed(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if raw:
            return  # fixtures load as they are
        tenant_id = getattr(instance, "tenant_id", None)
        if tenant_id is not None:
            mark_stale(tenant_id, partners_of(instance))
            return
        # A row of no one tenant (a person): (tenant id, partner id) pairs.
        by_tenant: dict[Any, list[Any]] = {}
        for tenant, partner in partners_of(instance):
            by_tenant.setdefault(tenant, []).append(partner)
        for tenant, partners in by_tenant.items():
            mark_stale(tenant, partners)

    return changed


RECEIVERS: list[Callable[..., None]] = []  # signals hold receivers weakly


def connect() -> None:
    for source in registry.fact_sources():
        for label, partners_of in source.watch.items():
            model = apps.get_model(label)
            receiver = _receiver(partners_of)
            RECEIVERS.append(receiver)
            uid = f"reporting:{source.key}:{label}"
            post_save.connect(receiver, sender=model, dispatch_uid=uid + ":save")
            post_delete.connect(receiver, sender=model, dispatch_uid=uid + ":delete")
