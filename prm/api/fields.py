"""Serializer fields the API's resources share."""

from typing import Any

from django.db import models
from rest_framework import serializers


class TenantRelated(serializers.PrimaryKeyRelatedField):
    """A related object by its id, looked up in the request's tenant only
    (the scoped manager, read when the request is validated: another
    tenant's id reads as one that does not exist)."""

    default_error_messages = {
        "does_not_exist": "No {model} has the id “{pk_value}”.",
        "incorrect_type": "Give the id (a UUID) of a {model}, not {data_type}.",
    }

    def __init__(self, model: type[models.Model], **kwargs: Any) -> None:
        self.model = model
        kwargs.setdefault("pk_field", serializers.UUIDField())
        super().__init__(**kwargs)

    def get_queryset(self) -> models.QuerySet[Any]:
        return self.model.objects.all()  # type: ignore[attr-defined]

    def fail(self, key: str, **kwargs: Any) -> None:
        kwargs.setdefault("model", self.model._meta.verbose_name)
        super().fail(key, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            raise
        except (ValueError, TypeError):
            self.fail("does_not_exist", pk_value=data)
