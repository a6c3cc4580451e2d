"""The dashboards' filters, read from the query string.

``ReportFilterForm(request.GET, tenant=..., today=..., membership=...)``
reads ``period`` (a preset of ``reporting.periods``), ``from``/``to`` (a
custom period, ``YYYY-MM-DD``), ``region``, ``tier``, ``partner_type`` and
``channel_manager``: the same names the links and bookmarks carry. Choices
are limited to the tenant's own regions, tiers and channel managers, so
another program's id is refused with a field error and selects nothing.

A form that does not validate changes nothing: ``period`` and ``filters``
are then the default period (this quarter) with no filters, and the page
shows the errors beside them. Partner members (partner admin, partner user)
see their own organisation only: the form reads the period and nothing else.

In Python, ``form.period`` is the ``Period`` in force; in a template,
``{{ form.period }}`` (like ``{{ form.from }}``, ``{{ form.region }}``) is
the field to render, Django's templates trying ``form["period"]`` first.
``{{ form.label }}`` is the period's name, ``{{ form.query }}`` the query
string of the current view.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, NamedTuple

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.forms.models import ModelChoiceIterator
from django.utils.http import urlencode

from partners.models import Partner, Region, Tier
from prm.tenancy.declarations import NO_FILTERS, Filters, Period
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role

from . import periods

PERIOD_FIELDS = ("period", "from", "to")
FILTER_FIELDS = ("region", "tier", "partner_type", "channel_manager")
# The order of the query string's parameters (links compare equal).
QUERY_ORDER = (*PERIOD_FIELDS, *FILTER_FIELDS)


class ActiveFilter(NamedTuple):
    """A filter in force, for a "remove" chip: "Region", "EMEA", and the
    query string of the same page without it."""

    label: str
    value: str
    query: str


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class OwnRows(ModelChoiceIterator):
    """The options from the rows the field read once (``OwnChoiceField.rows``)."""

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self._rows():
            yield self.choice(obj)

    def __len__(self) -> int:
        return len(self._rows()) + (self.field.empty_label is not None)

    def _rows(self) -> list[Any]:
        field = self.field
        assert isinstance(field, OwnChoiceField)
        return field.rows()


class OwnChoiceField(forms.ModelChoiceField):
    """A choice among the tenant's own rows by id: anything else, a
    malformed id included, is the field's "invalid_choice" error. The rows
    are read once, for the options and the check alike, so a page costs the
    same queries whichever filters it was given."""

    iterator = OwnRows
    _rows: list[Any] | None = None

    def _get_queryset(self) -> Any:
        return self._queryset

    def _set_queryset(self, queryset: Any) -> None:
        self._queryset = None if queryset is None else queryset.all()
        self._rows = None
        self.widget.choices = self.choices

    queryset = property(_get_queryset, _set_queryset)

    def rows(self) -> list[Any]:
        if self._rows is None:
            self._rows = list(self.queryset)
        return self._rows

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        key = str(value).strip()
        for obj in self.rows():
            if str(obj.pk) == key:
                return obj
        raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")


class ChannelManagerChoiceField(OwnChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = str(obj)
        return name if getattr(obj, "membership_active", True) else f"{name} (deactivated)"


def channel_managers(tenant: Tenant) -> QuerySet[User]:
    """The people holding the channel manager role in ``tenant`` (those
    deactivated too, last: partners may still name them)."""
    return (
        User.objects.filter(memberships__tenant=tenant, memberships__role=Role.CHANNEL_MANAGER)
        .annotate(membership_active=F("memberships__is_active"))
        .order_by("-membership_active", "full_name", "email")
    )


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=DateInput,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as year-month-day, e.g. 2026-10-01."},
    )


class ReportFilterForm(forms.Form):
    region = OwnChoiceField(
        label="Region",
        queryset=Region.objects.none(),
        required=False,
        empty_label="Every region",
        error_messages={"invalid_choice": "Choose a region of this program."},
    )
    tier = OwnChoiceField(
        label="Tier",
        queryset=Tier.objects.none(),
        required=False,
        empty_label="Every tier",
        error_messages={"invalid_choice": "Choose a tier of this program."},
    )
    partner_type = forms.ChoiceField(
        label="Partner type",
        required=False,
        choices=[("", "Every type"), *Partner.Type.choices],
        error_messages={"invalid_choice": "Choose a partner type from the list."},
    )
    channel_manager = ChannelManagerChoiceField(
        label="Channel manager",
        queryset=User.objects.none(),
        required=False,
        empty_label="Every channel manager",
        error_messages={"invalid_choice": "Choose a channel manager of this program."},
    )

    def __init__(
        self,
        data: Any = None,
        *,
        tenant: Tenant,
        today: date | None = None,
        membership: Membership | None = None,
    ) -> None:
        # Unbound (no query string at all) reads as bound and empty: the
        # default period with no filters, valid.
        super().__init__(data if data is not None else {})
        self.tenant = tenant
        self.today = today if today is not None else tenant.local_today()
        self.membership = membership
        self._period: Period | None = None  # a custom period, once validated
        # Added here, not as attributes: "from" is a Python keyword, and
        # ``period`` is the property the dashboards read.
        self.fields["period"] = forms.ChoiceField(
            label="Period",
            required=False,
            choices=list(periods.PRESETS.items()),
            error_messages={
                "invalid_choice": "Choose a period from the list (e.g. this quarter, custom dates)."
            },
        )
        self.fields["from"] = _date_field("From")
        self.fields["to"] = _date_field("To")
        if self.for_one_partner:
            for name in FILTER_FIELDS:
                del self.fields[name]
        else:
            region = self.fields["region"]
            tier = self.fields["tier"]
            manager = self.fields["channel_manager"]
            assert isinstance(region, forms.ModelChoiceField)
            assert isinstance(tier, forms.ModelChoiceField)
            assert isinstance(manager, forms.ModelChoiceField)
            region.queryset = Region.objects.filter(tenant=tenant)
            tier.queryset = Tier.objects.filter(tenant=tenant)
            manager.queryset = channel_managers(tenant)
        self.order_fields(QUERY_ORDER)

    @property
    def for_one_partner(self) -> bool:
        """A partner member's form: the period only (their dashboard shows
        their organisation, whatever the query string says)."""
        return self.membership is not None and self.membership.is_partner_role

    # --- Validation ---------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        preset = cleaned.get("period") or ""
        if "period" in self.errors:
            return cleaned
        if not preset:
            # A link that carries only dates means those dates.
            has_dates = self.data.get("from") or self.data.get("to")
            preset = periods.CUSTOM if has_dates else periods.DEFAULT_PRESET
            cleaned["period"] = preset
        if preset != periods.CUSTOM:
            # Dates beside a preset mean nothing: not even a mistyped one
            # stops the preset from applying.
            for name in ("from", "to"):
                self._errors.pop(name, None)  # type: ignore[attr-defined]
                cleaned[name] = None
            return cleaned
        if "from" in self.errors or "to" in self.errors:
            return cleaned
        try:
            self._period = periods.resolve(
                self.tenant,
                preset,
                today=self.today,
                start=cleaned.get("from"),
                end=cleaned.get("to"),
            )
        except periods.PeriodError as exc:
            self.add_error(exc.field, str(exc))
        return cleaned

    # --- What the dashboard applies -----------------------------------------------------

    @property
    def preset(self) -> str:
        """The period preset in force (the default when the form is invalid)."""
        if self.is_valid():
            return str(self.cleaned_data["period"])
        return periods.DEFAULT_PRESET

    @property
    def period(self) -> Period:
        """The days the figures are for: the chosen period, or this quarter
        when the form is invalid."""
        if self.is_valid() and self._period is not None:
            return self._period
        return periods.resolve(self.tenant, self.preset, today=self.today)

    @property
    def filters(self) -> Filters:
        """The filters in force (``partners.metrics.partner_q``'s ids): none
        when the form is invalid or is a partner member's."""
        if self.for_one_partner or not self.is_valid():
            return NO_FILTERS
        data = self.cleaned_data
        return Filters(
            region=data["region"].pk if data["region"] else None,
            tier=data["tier"].pk if data["tier"] else None,
            partner_type=data["partner_type"] or None,
            channel_manager=data["channel_manager"].pk if data["channel_manager"] else None,
        )

    @property
    def label(self) -> str:
        """The period's name: "Q4 FY2026 to date", "Q3 FY2026", "1 - 20 Nov 2026"."""
        return periods.label(self.period, self.tenant, today=self.today, preset=self.preset)

    # --- Links --------------------------------------------------------------------------

    def params(self) -> dict[str, str]:
        """The query parameters of what is in force, empty ones left out."""
        params = {"period": self.preset}
        if self.preset == periods.CUSTOM:
            # The dates as asked (an end after today stays: the link keeps
            # meaning the same days as they pass).
            params["from"] = self.cleaned_data["from"].isoformat()
            params["to"] = self.cleaned_data["to"].isoformat()
        params.update(self.filters.query())
        return params

    def query(self, **overrides: Any) -> str:
        """The query string of this view with ``overrides`` applied (without
        the leading "?"): ``query(period="last_quarter")``,
        ``query(region=None)`` (drops the region), ``query(export="partners",
        format="csv")``. Dates, model instances (their pk) and strings are
        accepted; ``None`` and "" drop a parameter. A preset other than
        custom drops the dates; dates alone make the period custom. The
        filters come in a fixed order, then any others by name."""
        params: dict[str, str] = dict(self.params())
        if "period" in overrides and overrides["period"] != periods.CUSTOM:
            params.pop("from", None)
            params.pop("to", None)
        if ("from" in overrides or "to" in overrides) and "period" not in overrides:
            params["period"] = periods.CUSTOM
        for name, value in overrides.items():
            text = _param(value)
            if text:
                params[name] = text
            else:
                params.pop(name, None)
        known = [(name, params[name]) for name in QUERY_ORDER if name in params]
        others = sorted((name, value) for name, value in params.items() if name not in QUERY_ORDER)
        return urlencode(known + others)

    def active_filters(self) -> list[ActiveFilter]:
        """The filters in force, each with the query string without it."""
        if self.for_one_partner or not self.is_valid():
            return []
        chips: list[ActiveFilter] = []
        for name in FILTER_FIELDS:
            value = self.cleaned_data.get(name)
            if not value:
                continue
            field = self.fields[name]
            if isinstance(field, forms.ModelChoiceField):
                shown = field.label_from_instance(value)
            else:
                shown = str(dict(Partner.Type.choices).get(value, value))
            chips.append(ActiveFilter(str(field.label), shown, self.query(**{name: None})))
        return chips


def _param(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    pk = getattr(value, "pk", None)
    if pk is not None:
        return str(pk)
    return str(value)
