"""``{% load prm %}``: the formatting filters every page, mail and export uses.

Thin wrappers over :mod:`prm.format` (the rules and their tests live there):
``{{ amount|money:currency }}``, ``{{ n|number }}``, ``{{ n|number:2 }}``,
``{{ p|percent }}``, ``{{ d|day }}``, ``{{ dt|moment }}``,
``{{ n|plural:"row" }}``, ``{{ n|plural:"entry,entries" }}``,
``{{ name|possessive }}``, ``{{ x|rate }}`` for exchange rates, and
``{{ values|sparkline:"label" }}``, a trend as an inline SVG (:mod:`prm.sparkline`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django import template
from django.http import QueryDict
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from prm import format as fmt
from prm import sparkline as spark
from prm.tenancy.chips import tone

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    return fmt.money(amount, currency)


@register.filter
def number(value: object, places: int | None = None) -> str:
    return fmt.number(value, places)


@register.filter
def percent(value: object, places: int = 1) -> str:
    return fmt.percent(value, places)


@register.filter
def day(value: dt.date | dt.datetime | None) -> str:
    return fmt.day(value)


@register.filter
def moment(value: dt.datetime | None) -> str:
    return fmt.moment(value)


@register.filter
def plural(count: object, word: str) -> str:
    return fmt.plural(count, word)


@register.filter
def possessive(name: object) -> str:
    return fmt.possessive(name)


@register.filter
def rate(value: Decimal | None) -> str:
    """An exchange rate without trailing zeros: ``1.0837``, ``1``."""
    if value is None or value == "":
        return ""
    return format(Decimal(value).normalize(), "f")


@register.filter
def sparkline(values: object, label: str = "Trend") -> SafeString:
    """``{{ figure.series|sparkline:"Pipeline" }}``: values (None for a gap)
    or (period, value) pairs, as an inline SVG named "Pipeline: first → last"."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        return spark.sparkline(None, label)
    return spark.sparkline(values, label)


@register.filter
def chip_tone(status: object) -> str:
    """``<span class="chip chip-{{ status|chip_tone }}">``: ok, warn, bad, info, muted."""
    return tone(status)


@register.simple_tag(takes_context=True)
def page_url(context: template.Context, page: int) -> str:
    """``?status=won&q=acme&page=3``: the current query with another page."""
    request = context.get("request")
    query = request.GET.copy() if request is not None else QueryDict(mutable=True)
    query["page"] = str(page)
    return "?" + query.urlencode()


@register.simple_tag(takes_context=True)
def nav_current(context: template.Context, url_name: str) -> str:
    """``aria-current="page"`` for the main menu entry of the page being shown:
    the entry's own page, or (for any entry but the home page) a page under
    its path, so "Deals" stays marked on a registration's page."""
    request = context.get("request")
    if request is None:
        return ""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == url_name:
        return mark_safe(' aria-current="page"')
    url = reverse(url_name)
    if url != "/" and request.path.startswith(url):
        return mark_safe(' aria-current="page"')
    return ""
