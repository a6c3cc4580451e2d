"""Serving a claim's proof of performance: the one way to a stored proof.

The proof is looked up in the request's tenant (another tenant's: 404) and
shown only to those who may see its claim: the claim partner's members
(``portal.mdf``) and staff with ``mdf.view_claim`` (on this claim, where
the permission is object-scoped), a draft to its partner only. Anyone
else gets 404, as for a missing file.

It is sent as an attachment under its original name, typed as detected at
upload, with ``nosniff`` and a Content-Security-Policy that lets nothing
run. ``?inline=1`` shows an image or a PDF in the page (the reviewer's
preview in the admin, framed by the same site); other kinds are always
downloaded.
"""

import uuid

from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from prm.tenancy.access import role_required, visible_or_404
from prm.tenancy.codes import normalize_code
from prm.tenancy.files import serve
from prm.tenancy.models import Membership
from prm.tenancy.requests import MemberRequest

from .models import Claim, ProofFile

PARTNER_PERM = "portal.mdf"
STAFF_PERM = "mdf.view_claim"
# A preview may be framed by the site's own pages; nothing in it may run.
INLINE_POLICY = "default-src 'none'; img-src 'self'; frame-ancestors 'self'; sandbox"


def may_see(membership: Membership, claim: Claim) -> bool:
    """Whether ``membership`` may see ``claim`` and its proof."""
    if membership.partner_id is not None:
        return membership.has_perm(PARTNER_PERM) and claim.partner_id == membership.partner_id
    return claim.status != Claim.Status.DRAFT and membership.has_perm(STAFF_PERM, claim)


@require_GET
@role_required(PARTNER_PERM, STAFF_PERM)
def proof_file(request: MemberRequest, code: str, proof_id: uuid.UUID) -> FileResponse:
    claim = visible_or_404(Claim.objects.select_related("partner"), code=normalize_code(code))
    if not may_see(request.membership, claim):
        raise Http404("No such file.")
    proof = visible_or_404(ProofFile.objects.filter(claim=claim), pk=proof_id)
    inline = request.GET.get("inline") == "1" and bool(proof.inline_preview)
    return serve(
        proof.file,
        filename=proof.original_name,
        content_type=proof.content_type,
        inline_policy=INLINE_POLICY if inline else "",
    )
