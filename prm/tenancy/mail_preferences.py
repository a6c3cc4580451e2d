"""Whether a notification's person wants it mailed: their mail preferences
(``MailPreference``, set on "My account", ``prm.tenancy.account``), asked by
``services.mail_notifications`` and again by the mail task."""

from collections.abc import Iterable

from .models import MailPreference, Notification


def unwanted_mail(notes: Iterable[Notification]) -> set[tuple[object, str]]:
    """(user id, kind) of the ``notes`` whose person turned that kind's mails
    off here: one query for any number of notifications."""
    notes = list(notes)
    if not notes:
        return set()
    return set(
        MailPreference.objects.filter(
            email=False,
            kind__in={n.kind for n in notes},
            membership__user_id__in={n.user_id for n in notes},
        ).values_list("membership__user_id", "kind")
    )


def wants_mail(note: Notification) -> bool:
    """Whether the person of ``note`` wants its kind mailed (asked again
    when the mail goes out: they may have changed their mind since)."""
    return not unwanted_mail([note])
