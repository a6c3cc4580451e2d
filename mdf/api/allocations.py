"""The funds a partner may draw on, in the REST API
(``/api/v1/mdf-allocations/``): each allocation of a budget to a partner,
with its fund type and where its money stands, as the portal's "Funds"
page shows them (staff: every partner's, as the admin does)."""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from incentives.api import Represented
from incentives.api_examples import examples

from ..models import Allocation
from ..serializers import AllocationSerializer, allocation_rows
from . import examples as ex


class AllocationFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    fund = django_filters.UUIDFilter(field_name="budget__fund_type_id")
    current = django_filters.BooleanFilter(
        method="is_current", label="Whether its period has not ended yet (true) or has (false)."
    )

    class Meta:
        model = Allocation
        fields: list[str] = []

    def is_current(self, queryset: QuerySet[Allocation], name: str, value: bool) -> QuerySet:
        today = self.request._request.tenant.local_today()
        if value:
            return queryset.filter(budget__ends_on__gte=today)
        return queryset.filter(budget__ends_on__lt=today)


@extend_schema_view(
    list=extend_schema(
        summary="List fund allocations", examples=examples("An allocation", ex.ALLOCATION)
    ),
    retrieve=extend_schema(
        summary="Get a fund allocation", examples=examples("An allocation", ex.ALLOCATION)
    ),
)
class AllocationViewSet(Represented, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Partners' shares of the MDF budgets: what they may request funds
    from (``available``), what approved requests hold, what was claimed
    and paid, what expired. A partner's people see their own."""

    resource = "mdf"
    read_perms = ("mdf.view_allocation", "portal.mdf")
    serializer_class = AllocationSerializer
    filterset_class = AllocationFilter
    ordering_fields = ("updated_at", "amount")

    def base_queryset(self) -> QuerySet[Allocation]:
        return allocation_rows()
