"""The tenant admin's lists: a paginator for very large tables, and the
changelist that never leaves the tenant and says which filter in its address
it could not use."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import TenantOwned
from .params import quoted
from .requests import tenant_of


class LargeTablePaginator(Paginator):  # type: ignore[type-arg]
    """A paginator for tables that grow to millions of rows: counts exactly
    up to ``EXACT_UP_TO`` (a bounded scan), and past that takes PostgreSQL's
    planner estimate, which the changelist shows as the total. Counting a
    million rows exactly on every page view costs more than the page."""

    EXACT_UP_TO = 10_000
    object_list: models.QuerySet[Any]

    @cached_property
    def count(self) -> int:
        rows = self.object_list.order_by().values("pk")
        bounded = rows[: self.EXACT_UP_TO + 1].count()
        if bounded <= self.EXACT_UP_TO:
            return bounded
        plan: list[dict[str, Any]] = json.loads(rows.explain(format="json"))
        return max(int(plan[0]["Plan"]["Plan Rows"]), bounded)


class TenantChangeList(ChangeList):
    """Never let a changelist escape the tenant, whatever the filters say."""

    def get_queryset(
        self, request: HttpRequest, exclude_parameters: list[str | None] | None = None
    ) -> QuerySet[Any]:
        try:
            qs = super().get_queryset(request, exclude_parameters)
        except IncorrectLookupParameters:
            # Django answers with the whole list (``?e=1``) and no word of
            # why; the list page says which address it could not use.
            match = getattr(request, "resolver_match", None)
            if getattr(match, "url_name", "").endswith("_changelist"):
                values = " ".join(str(value) for value in request.GET.values())
                messages.warning(
                    request,
                    f"The list could not be filtered by {quoted(values)}: it names nothing here "
                    "(a link may have been cut short or edited). Showing the whole list.",
                )
            raise
        if issubclass(self.model, TenantOwned):
            qs = qs.filter(tenant=tenant_of(request))
        return qs
