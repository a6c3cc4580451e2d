"""The receipt of an acceptance, as a PDF the partner keeps: which
agreement and version (its effective date and the SHA-256 of its content),
who accepted it for which partner, the name they typed, when (in the
tenant's time zone), from which address and browser. Drawn like the
partner statements (``incentives.statement_export``): A4, the vendor's
name on top, Bitstream Vera (any Unicode text)."""

import io
from datetime import datetime
from pathlib import Path

from django.utils import timezone

from prm import format as fmt

from .models import Acceptance

PAGE_MARGIN = 48
LABEL_WIDTH = 130
LINE = 14
FONT_SIZE = 10


def _fonts() -> tuple[str, str]:
    """Bitstream Vera, which ships with reportlab (the statements' font)."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "PRM-Sans" not in pdfmetrics.getRegisteredFontNames():
        folder = next(Path(p) for p in rl_config.TTFSearchPath if (Path(p) / "Vera.ttf").is_file())
        pdfmetrics.registerFont(TTFont("PRM-Sans", str(folder / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont("PRM-Sans-Bold", str(folder / "VeraBd.ttf")))
    return "PRM-Sans", "PRM-Sans-Bold"


def facts(acceptance: Acceptance) -> list[tuple[str, str]]:
    """What the receipt states, in order (label, value)."""
    version = acceptance.version
    agreement = version.agreement
    tenant = acceptance.partner.tenant
    tz = tenant.tzinfo
    user = acceptance.user
    person = user.get_full_name()
    person = f"{person} <{user.email}>" if person else user.email
    effective = fmt.day(version.effective_on)
    if version.expires_on:
        effective += f" (expires {fmt.day(version.expires_on)})"
    return [
        ("Vendor", tenant.name),
        ("Partner", acceptance.partner.name),
        ("Agreement", agreement.title),
        ("Version", str(version.number)),
        ("Effective", effective),
        ("Document", "PDF" if version.pdf else "Text"),
        ("Content SHA-256", acceptance.content_sha256),
        ("Accepted by", person),
        ("Typed name", acceptance.typed_name),
        ("Accepted at", f"{fmt.moment(acceptance.accepted_at, tz)} ({tenant.timezone})"),
        ("IP address", acceptance.ip_address or "not recorded"),
        ("Browser", acceptance.user_agent or "not recorded"),
        ("Receipt", str(acceptance.pk)),
    ]


def filename(acceptance: Acceptance) -> str:
    version = acceptance.version
    title = "".join(c if c.isalnum() else "-" for c in version.agreement.title.lower()).strip("-")
    return f"{acceptance.partner.tenant.slug}-{title[:40]}-v{version.number}-receipt.pdf"


def pdf_bytes(acceptance: Acceptance, *, now: datetime | None = None) -> bytes:
    """The receipt as a one-page PDF (A4 portrait)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen.canvas import Canvas

    regular, bold = _fonts()
    tenant = acceptance.partner.tenant
    tz = tenant.tzinfo
    now = timezone.localtime(now or timezone.now(), tz)
    version = acceptance.version
    width, height = A4
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{version.agreement.title} v{version.number}: acceptance receipt")
    canvas.setAuthor(tenant.name)
    canvas.setSubject(f"Accepted by {acceptance.partner.name}")
    left, right = PAGE_MARGIN, width - PAGE_MARGIN
    top = height - PAGE_MARGIN
    canvas.setFont(bold, 15)
    canvas.drawString(left, top - 14, f"{tenant.name} — agreement acceptance receipt")
    canvas.setFont(regular, 9)
    canvas.drawString(left, top - 30, f"Generated {fmt.moment(now, tz)} ({tenant.timezone})")
    canvas.setLineWidth(0.5)
    canvas.line(left, top - 38, right, top - 38)
    y = top - 62
    value_width = right - left - LABEL_WIDTH
    for label, value in facts(acceptance):
        canvas.setFont(bold, FONT_SIZE)
        canvas.drawString(left, y, label)
        canvas.setFont(regular, FONT_SIZE)
        lines = simpleSplit(" ".join(value.split()), regular, FONT_SIZE, value_width) or [""]
        for text in lines:
            # A value without spaces (a hash) longer than the column is cut
            # into pieces that fit.
            while text:
                piece = text
                while canvas.stringWidth(piece, regular, FONT_SIZE) > value_width:
                    piece = piece[:-1]
                canvas.drawString(left + LABEL_WIDTH, y, piece)
                text = text[len(piece) :]
                y -= LINE
        y -= 4
    canvas.line(left, y, right, y)
    canvas.setFont(regular, 8)
    canvas.drawString(
        left,
        y - 14,
        "The content hash is the SHA-256 of the agreement exactly as it was shown "
        "(its text in UTF-8, or its PDF).",
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
