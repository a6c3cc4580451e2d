"""Proof uploads (interim: the uploads helper replaces this module)."""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from .errors import MdfError

SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


@dataclass
class Checked:
    file: UploadedFile
    content_type: str
    size: int
    sha256: str


def check_uploads(files, *, existing_count: int, existing_bytes: int) -> list[Checked]:  # type: ignore[no-untyped-def]
    checked = []
    if existing_count + len(files) > getattr(settings, "MDF_UPLOAD_MAX_FILES", 100):
        raise MdfError("A claim holds at most 100 files.", "proofs")
    for f in files:
        head = f.read(16)
        f.seek(0)
        kind = next((t for sig, t in SIGNATURES if head.startswith(sig)), None)
        if kind is None:
            raise MdfError(f"{f.name} is not a PDF, PNG or JPEG file.", "proofs")
        digest = hashlib.sha256(f.read()).hexdigest()
        f.seek(0)
        checked.append(Checked(f, kind, f.size or 0, digest))
    return checked


def store_proof(claim, checked: Checked, *, kind: str, by_user):  # type: ignore[no-untyped-def]
    from .models import ProofFile

    proof = ProofFile(
        tenant_id=claim.tenant_id,
        claim=claim,
        kind=kind,
        original_name=checked.file.name[:200],
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        uploaded_by=by_user,
    )
    proof.file.save("proof", checked.file, save=False)
    proof.save()
    return proof
