"""The base of every API resource: ``TenantViewSet``.

A resource declares what it serves and who may use it::

    class PartnerViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
        resource = "partners"                       # the key scope's name
        read_perms = ("partners.view_partner", "portal.partner_home")
        write_perms = ("partners.change_partner",)
        serializer_class = PartnerSerializer
        owner_field = "id"                          # what ties a row to a partner

        def base_queryset(self):
            return Partner.objects.select_related("tier", "region")

and gets, from here: key or session authentication, the permission table
and the key's scopes (``permissions``), a partner member's rows limited to
its own organisation (``owner_field``; another partner's object is 404),
cursor pagination, ``?ordering=`` and django-filter parameters, errors as
problem details, ETags on single objects, ``Idempotency-Key`` on POST and
the per-key rate limit. Writes call the app's services; a service's
refusal is raised as ``problems.Conflict`` or ``problems.Invalid``."""

from typing import Any

from django.db import models, transaction
from django.http import HttpResponseBase
from rest_framework import status, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from . import etags, idempotency
from .authentication import ApiKeyAuthentication, TenantSessionAuthentication
from .filters import SafeFilterBackend
from .pagination import Cursor
from .permissions import DeclaredPermission
from .problems import PreconditionFailed
from .throttling import PerKeyRate

UUID_PATTERN = "[0-9a-fA-F-]{36}"


class TenantViewSet(viewsets.GenericViewSet):
    resource: str = ""
    read_perms: tuple[str, ...] = ()
    write_perms: tuple[str, ...] = ()
    action_perms: dict[str, tuple[str, ...]] = {}
    # Actions that only read, though they may be POSTed.
    read_actions: tuple[str, ...] = ()
    # The lookup from a row to its partner, for partner members ("partner",
    # "registration__partner"); "id" on the partner itself.
    owner_field: str | None = "partner"

    authentication_classes = [ApiKeyAuthentication, TenantSessionAuthentication]
    permission_classes = [DeclaredPermission]
    throttle_classes = [PerKeyRate]
    pagination_class = Cursor
    renderer_classes = [JSONRenderer]
    filter_backends = [SafeFilterBackend, OrderingFilter]
    ordering_fields: tuple[str, ...] = ()
    lookup_field = "id"
    lookup_value_regex = UUID_PATTERN

    # --- Rows ---------------------------------------------------------------------

    def base_queryset(self) -> models.QuerySet[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define base_queryset()")

    def get_queryset(self) -> models.QuerySet[Any]:
        queryset = self.base_queryset()
        membership = getattr(self.request._request, "membership", None)
        if membership is not None and membership.is_partner_role:
            if self.owner_field is None:
                return queryset.none()
            queryset = queryset.filter(**{self.owner_field: membership.partner_id})
        return queryset

    @property
    def membership(self) -> Any:
        return self.request._request.membership

    @property
    def tenant(self) -> Any:
        return self.request._request.tenant

    # --- Conditional requests -----------------------------------------------------

    def representation(self, instance: Any) -> Any:
        return self.get_serializer(instance).data

    def get_object(self) -> Any:
        instance = super().get_object()
        wanted = self.request.headers.get("If-Match")
        if wanted and self.request.method not in ("GET", "HEAD", "OPTIONS"):
            current = etags.etag_of(self.representation(instance))
            if wanted.strip() != "*" and current not in etags.listed(wanted):
                raise PreconditionFailed()
        return instance

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.representation(self.get_object())
        tag = etags.etag_of(data)
        if tag in etags.listed(request.headers.get("If-None-Match", "")):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        return Response(data, headers={"ETag": tag})

    def object_response(self, instance: Any, code: int = status.HTTP_200_OK) -> Response:
        """The answer of a write or an action: the object as it is now."""
        data = self.representation(instance)
        return Response(data, status=code, headers={"ETag": etags.etag_of(data)})

    # --- Idempotency, rate-limit headers ------------------------------------------

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and request.headers.get(idempotency.HEADER):
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._idempotent = idempotency.begin(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, idempotency.Replay):
            record = exc.record
            headers = {"Idempotent-Replayed": "true"}
            if record.location:
                headers["Location"] = record.location
            return Response(record.body, status=record.status, headers=headers)
        return super().handle_exception(exc)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotent", None)
        if record is not None:
            self._idempotent = None
            if 200 <= response.status_code < 300:
                record.status = response.status_code
                record.body = _as_json(response.data)
                record.location = response.get("Location", "")
                record.save(update_fields=["status", "body", "location"])
            else:
                transaction.set_rollback(True)
        limit = getattr(request._request, "rate_limit", None)
        if limit is not None:
            response["RateLimit-Limit"] = str(limit[0])
            response["RateLimit-Remaining"] = str(limit[1])
            response["RateLimit-Reset"] = str(limit[2])
        return response


def _as_json(data: Any) -> Any:
    import json

    return json.loads(json.dumps(data, cls=JSONEncoder))
