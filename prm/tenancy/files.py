"""Serving a stored upload (an MDF proof, an onboarding document, a
certificate, an agreement's PDF) so that nothing in it can act: the view
has checked the viewer; this sends the file with the headers that keep a
browser from running, sniffing, framing or caching it."""

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404

# Nothing in a served file may load or run anything, or be framed.
ATTACHMENT_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def serve(
    stored: FieldFile,
    *,
    filename: str,
    content_type: str,
    inline_policy: str = "",
) -> FileResponse:
    """``stored`` as a download under ``filename`` (404 when the file is
    gone), or shown in a page of the site itself when ``inline_policy`` (its
    Content-Security-Policy) is given."""
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    inline = bool(inline_policy)
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=filename,
        content_type=content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = inline_policy or ATTACHMENT_POLICY
    response["X-Frame-Options"] = "SAMEORIGIN" if inline else "DENY"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
