"""The one refusal type of the apps' services, and how a form shows it.

Every app's domain exception (``PartnerError``, ``DealRegError``,
``IncentiveError`` …) subclasses ``ServiceError``: a message for the person
and, when there is one, the name of the form field it is about. Views and
admin pages catch ``ServiceError`` and hand it to ``add_service_error``.
"""

from django import forms


class ServiceError(Exception):
    """A refused operation; ``str(error)`` is the message for the person.
    ``field`` names the form field it belongs to, when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def add_service_error(form: forms.BaseForm, error: Exception) -> None:
    """Show a refused operation on the field it names, else above the form
    (a field the form does not have counts as none)."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, str(error))
