"""One CSV import flow for the admin: upload → dry run → confirm.

1. The person uploads a file (``CsvUploadForm``: at most 5 MB, UTF-8).
2. The importer checks every row without writing anything; the page shows
   each row with its problems, or what it will do (new, update …).
3. A clean file waits on the server under a one-use token bound to the
   tenant and the person (a file posted back as a form field would run into
   ``DATA_UPLOAD_MAX_MEMORY_SIZE``); "Import" sends only the token.
4. The importer checks the file again and writes every row in one
   transaction, or nothing (the data may have changed since the dry run).

A model admin takes part with ``CsvImportMixin`` and a ``CsvImporter``:

    class RateImporter(CsvImporter):
        noun = "exchange rates"
        columns = rate_import.CSV_COLUMNS
        template = "admin/incentives/exchangerate/import.html"

        def check(self, text): return rate_import.parse_rates_csv(self.tenant, text)
        def apply(self, text): return rate_import.import_rates(tenant=..., by=..., text=text)

    class ExchangeRateAdmin(CsvImportMixin, TenantModelAdmin):
        csv_importer = RateImporter

The page template extends ``admin/csv_import.html`` and fills in what is
particular to the model: the explanation, the preview's columns and the
ready summary.
"""

import secrets
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from prm.csvio import ImportResult

from .outage import CACHE_ERRORS
from .requests import MemberRequest

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _AdminBase = ModelAdmin[Any]
else:
    _AdminBase = object

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# How long a checked file waits for its confirmation.
PREVIEW_SECONDS = 60 * 60
EXPIRED = "The preview has expired or was already imported; upload the file again."
NOT_VALID_ANY_MORE = "Nothing was imported: the file no longer validates."
# The checked file waits in the Redis cache; when that cannot be reached:
CANNOT_HOLD = (
    "The file cannot be imported right now: the server cannot hold its preview until you "
    "confirm (its cache is unreachable). Nothing was imported; upload the file again in a minute."
)
CANNOT_REACH = (
    "Nothing was imported: the server cannot reach the preview of your file right now "
    "(its cache is unreachable). Try again in a minute, or upload the file again."
)


class CsvUploadForm(forms.Form):
    """The upload: ``cleaned_data["file"]`` is the file's text."""

    file = forms.FileField(label="CSV file")

    def __init__(self, *args: Any, help_text: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = help_text

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB; split it.")
        try:
            text: str = upload.read().decode("utf-8-sig")
            return text
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(
                "The file is not UTF-8 text; save it as “CSV UTF-8” and try again."
            ) from exc


class CsvImporter(ABC):
    """What one model's import knows: its columns, how to check a file
    (every row parsed into its errors or the change it would make; nothing
    written) and how to apply it (checked again, then every row written in
    one transaction, or none). Made per request."""

    noun: ClassVar[str] = "rows"  # "Import 3 partners"
    columns: ClassVar[list[str]] = []
    required_columns: ClassVar[set[str] | frozenset[str]] = frozenset()
    template: ClassVar[str] = "admin/csv_import.html"
    help_text: ClassVar[str | None] = None

    def __init__(self, request: MemberRequest) -> None:
        self.request = request
        self.tenant = request.tenant
        self.user = request.user
        self.membership = request.membership

    @abstractmethod
    def allowed(self) -> bool:
        """May this person import? (403 otherwise.)"""

    @abstractmethod
    def check(self, text: str) -> ImportResult:
        """The dry run: every row with its problems; nothing is written."""

    @abstractmethod
    def apply(self, text: str) -> ImportResult:
        """Check again and write all rows in one transaction, or none."""

    def success_message(self, result: ImportResult) -> str:
        return f"Imported {result.created} {self.noun}."

    def context(self) -> dict[str, Any]:
        """Extra context for the page."""
        return {}

    def upload_help(self) -> str:
        if self.help_text is not None:
            return self.help_text
        text = f"Columns: {', '.join(self.columns)}."
        if self.required_columns:
            text += f" Required: {', '.join(sorted(self.required_columns))}."
        return text


class CsvImportMixin(_AdminBase):
    """Adds ``<changelist>/import/`` to a model admin, run by ``csv_importer``."""

    csv_importer: type[CsvImporter]

    def _import_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_import"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name=self._import_url_name()),
            *super().get_urls(),
        ]

    def _preview_key(self, request: MemberRequest, token: str) -> str:
        opts = self.opts
        return (
            f"csv-import:{opts.app_label}.{opts.model_name}:{request.tenant.pk}:"
            f"{request.user.pk}:{token}"
        )

    def _take_preview(self, request: MemberRequest, token: str) -> str | None:
        """The file waiting under ``token``, taken so that only one
        confirmation (of two sent at once) gets it."""
        key = self._preview_key(request, token)
        text: str | None = cache.get(key)
        if text is None or not cache.delete(key):
            return None
        return text

    def import_view(self, request: MemberRequest) -> HttpResponse:
        importer = self.csv_importer(request)
        if not importer.allowed():
            raise PermissionDenied
        admin_name = self.admin_site.name
        changelist = f"{admin_name}:{self.opts.app_label}_{self.opts.model_name}_changelist"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Import {importer.noun} from CSV",
            "columns": importer.columns,
            "noun": importer.noun,
            "changelist_url": reverse(changelist),
            **importer.context(),
        }
        form = CsvUploadForm(help_text=importer.upload_help())
        if request.method == "POST" and "confirm" in request.POST:
            try:
                text = self._take_preview(request, request.POST.get("token", ""))
            except CACHE_ERRORS:
                messages.error(request, CANNOT_REACH)
                return redirect(f"{admin_name}:{self._import_url_name()}")
            if text is None:
                messages.error(request, EXPIRED)
                return redirect(f"{admin_name}:{self._import_url_name()}")
            result = importer.apply(text)
            if result.ok:
                messages.success(request, importer.success_message(result))
                return redirect(changelist)
            messages.error(request, NOT_VALID_ANY_MORE)
            context["result"] = result
        elif request.method == "POST":
            form = CsvUploadForm(request.POST, request.FILES, help_text=importer.upload_help())
            if form.is_valid():
                text = form.cleaned_data["file"]
                result = importer.check(text)
                context["result"] = result
                if result.ok:
                    token = secrets.token_urlsafe(24)
                    try:
                        cache.set(self._preview_key(request, token), text, PREVIEW_SECONDS)
                    except CACHE_ERRORS:
                        context["cannot_hold"] = CANNOT_HOLD
                    else:
                        context["token"] = token
        context["form"] = form
        return TemplateResponse(request, importer.template, context)
