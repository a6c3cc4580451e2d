"""What an SLA or protection sweep writes for a batch of registrations,
collected so that each table gets one insert (``dealreg.sla``)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prm.tenancy.models import AuditEntry, Notification, Tenant, User
from prm.tenancy.services import mail_notifications, unsaved_notifications

from .models import DealRegistration, RegistrationEvent, SlaMark


@dataclass
class Writes:
    """What a batch writes, collected so that each table gets one insert."""

    marks: list[SlaMark] = field(default_factory=list)
    events: list[RegistrationEvent] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)
    notes: list[tuple] = field(default_factory=list)

    def mark(self, registration: DealRegistration, kind: str, now: datetime) -> None:
        self.marks.append(
            SlaMark(
                tenant_id=registration.tenant_id,
                registration=registration,
                kind=kind,
                cycle=registration.sla_cycle,
                created_at=now,
            )
        )

    def event(
        self,
        registration: DealRegistration,
        kind: str,
        now: datetime,
        *,
        message: str = "",
        visible: bool = True,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.events.append(
            RegistrationEvent(
                tenant_id=registration.tenant_id,
                registration=registration,
                kind=kind,
                message=message,
                visible_to_partner=visible,
                data=data or {},
                created_at=now,
            )
        )

    def audit(
        self, registration: DealRegistration, action: str, now: datetime, data: dict[str, Any]
    ) -> None:
        self.audits.append(
            AuditEntry(
                tenant_id=registration.tenant_id,
                actor=None,
                action=action,
                object_type=DealRegistration._meta.label_lower,
                object_id=str(registration.pk),
                object_repr=str(registration)[:200],
                data=data,
                created_at=now,
            )
        )

    def notify(self, users: Iterable[User | None], **fields: Any) -> None:
        """Fields as ``prm.tenancy.services.notify`` takes them."""
        self.notes.append((users, fields))

    def extend(self, other: "Writes") -> None:
        self.marks += other.marks
        self.events += other.events
        self.audits += other.audits
        self.notes += other.notes

    def save(self, tenant: Tenant) -> None:
        SlaMark.objects.bulk_create(self.marks)
        RegistrationEvent.objects.bulk_create(self.events)
        AuditEntry.objects.bulk_create(self.audits)
        notify_many(tenant, self.notes)


def notify_many(tenant: Tenant, items: list[tuple]) -> None:
    """``prm.tenancy.services.notify`` for many messages in one insert: in the
    portal at once, by mail after commit (through the outbox)."""
    notes: list[Notification] = []
    for users, fields in items:
        notes += unsaved_notifications(tenant, users, **fields)
    mail_notifications(tenant, Notification.objects.bulk_create(notes))
