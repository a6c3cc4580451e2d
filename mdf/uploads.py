"""Proof-of-performance uploads: what a file is, decided from its content.

A partner's upload is never trusted for its name or the content type its
browser sent. ``check_upload`` reads the bytes and accepts only the
allow-list of ``KINDS`` (PDF, PNG, JPEG, WebP, CSV, XLSX); anything else is
refused with a message naming the file and what its content looks like
("invoice.pdf is not a PDF, PNG, JPEG, WebP, CSV or XLSX file (its content
is HTML)."). ``check_uploads`` also keeps a claim within its caps (size per
file, total size and number of files per claim, from settings), refusing
the whole batch if one file breaks them. ``store_proof`` saves a checked
file through the ``proofs`` storage under a random name whose extension is
the one of the detected type; the uploader's name is kept only as data.

The detection is an allow-list, not a malware scanner: what it guarantees
is that a stored proof is one of six harmless formats by its structure, and
the serving view (``views_proof``) adds the rest (attachment, ``nosniff``,
a sandboxing Content-Security-Policy).
"""

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from prm.tenancy.models import User

from .errors import MdfError
from .models import Claim, ProofFile

FIELD = "proofs"
MIB = 1024 * 1024

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Detected content type -> how the person calls it.
KINDS = {PDF: "PDF", PNG: "PNG", JPEG: "JPEG", WEBP: "WebP", CSV: "CSV", XLSX: "XLSX"}
ALLOWED = "a PDF, PNG, JPEG, WebP, CSV or XLSX file"

# An XLSX is a zip: these bound what a crafted one may claim to unpack to
# (its members are never extracted; one small member is read, bounded).
XLSX_MAX_MEMBERS = 2000
XLSX_MAX_UNCOMPRESSED = 200 * MIB
XLSX_CONTENT_TYPES_LIMIT = MIB

ORIGINAL_NAME_MAX = 200
# What the head of a CSV must not look like: markup, or a script.
_SCRIPT_START = re.compile(
    rb"^(?:#!|//|/\*|\(?\s*function\b|!function\b|(?:var|let|const|import|export)\s)",
    re.IGNORECASE,
)
_CSV_DELIMITERS = ",;\t|"
CSV_SAMPLE_ROWS = 200


@dataclass(frozen=True)
class Checked:
    """An upload whose content was checked: its sanitised original name,
    the detected content type, size and SHA-256 of its bytes."""

    file: UploadedFile
    name: str
    content_type: str
    size: int
    sha256: str

    @property
    def kind(self) -> str:
        return KINDS[self.content_type]

    @property
    def extension(self) -> str:
        return ProofFile.EXTENSIONS[self.content_type]


# --- Limits -------------------------------------------------------------------


def max_file_bytes() -> int:
    return int(getattr(settings, "MDF_UPLOAD_MAX_FILE_BYTES", 10 * MIB))


def max_claim_bytes() -> int:
    return int(getattr(settings, "MDF_UPLOAD_MAX_CLAIM_BYTES", 100 * MIB))


def max_files() -> int:
    return int(getattr(settings, "MDF_UPLOAD_MAX_FILES", 100))


def file_size(size: int) -> str:
    """``10 MB``, ``1.5 MB``, ``800 KB``, ``12 bytes`` (binary multiples, as
    the limits are set)."""
    for unit, factor in (("GB", 1024**3), ("MB", MIB), ("KB", 1024)):
        if size >= factor:
            value = f"{size / factor:.1f}".removesuffix(".0")
            return f"{value} {unit}"
    return f"{size} byte" + ("" if size == 1 else "s")


# --- Names ----------------------------------------------------------------------


def clean_name(name: str | None) -> str:
    """The uploader's file name as data: its last path component, without
    control or format characters, at most 200 characters (the extension
    kept), never empty."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    text = " ".join(text.split()).strip(" .")
    if not text:
        return "file"
    if len(text) > ORIGINAL_NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: ORIGINAL_NAME_MAX - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:ORIGINAL_NAME_MAX]
    return text


# --- Detection ------------------------------------------------------------------


class _Refused(Exception):
    """What a refused file's content looks like ("HTML", "a ZIP archive
    that is not an XLSX workbook", ...)."""

    def __init__(self, looks_like: str):
        super().__init__(looks_like)
        self.looks_like = looks_like


def _read_all(f: UploadedFile) -> bytes:
    f.seek(0)
    data = b"".join(f.chunks())
    f.seek(0)
    return data


def _describe(head: bytes) -> str:
    """What a file that is none of the allowed kinds looks like, for the
    refusal's message."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")):
        return "HTML"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "an SVG image"
    if text.startswith(b"<"):
        return "HTML or XML"
    if head.startswith(b"MZ"):
        return "a Windows program"
    if head.startswith(b"\x7fELF"):
        return "a program"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "a legacy or encrypted Office document"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip archive"
    if head.startswith((b"Rar!", b"7z\xbc\xaf")):
        return "an archive"
    if head.startswith(b"PK"):
        return "a ZIP archive that is not an XLSX workbook"
    if b"%PDF-" in head[:1024]:
        return "a PDF with something before its header"
    if _SCRIPT_START.match(text) or b"<script" in text:
        return "a script"
    return "binary data" if b"\x00" in head else "another kind of file"


def _xlsx(f: UploadedFile) -> None:
    """An Office Open XML workbook: a zip with the workbook's parts, a
    bounded number of members and bounded uncompressed size, and no macros."""
    try:
        f.seek(0)
        with zipfile.ZipFile(f) as archive:
            members = archive.infolist()
            if len(members) > XLSX_MAX_MEMBERS:
                raise _Refused(f"a ZIP archive of more than {XLSX_MAX_MEMBERS} files")
            if sum(m.file_size for m in members) > XLSX_MAX_UNCOMPRESSED:
                raise _Refused(
                    f"a ZIP archive unpacking to more than {file_size(XLSX_MAX_UNCOMPRESSED)}"
                )
            names = {m.filename for m in members}
            if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
                raise _Refused("a ZIP archive that is not an XLSX workbook")
            if "xl/vbaProject.bin" in names:
                raise _Refused("a workbook with macros")
            with archive.open("[Content_Types].xml") as part:
                types = part.read(XLSX_CONTENT_TYPES_LIMIT)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError):
        raise _Refused("a damaged or unreadable ZIP archive") from None
    finally:
        f.seek(0)
    if b"macroEnabled" in types:
        raise _Refused("a workbook with macros")
    if b"spreadsheetml" not in types:
        raise _Refused("a ZIP archive that is not an XLSX workbook")


def _csv(data: bytes) -> None:
    """UTF-8 text (a byte-order mark allowed) without NUL characters, not
    markup or a script, whose rows have a consistent number (2 or more) of
    fields for one of , ; tab |."""
    if b"\x00" in data:
        raise _Refused("binary data")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Refused("not UTF-8 text") from None
    head = text.lstrip()
    if not head:
        raise _Refused("empty text")
    if head.startswith("<") or _SCRIPT_START.match(head[:200].encode()):
        raise _Refused(_describe(head[:1024].encode()))
    lowered = text.casefold()
    if "<script" in lowered or "<html" in lowered or "javascript:" in lowered:
        raise _Refused("text with HTML or a script in it")
    lines = [line for line in text.splitlines() if line.strip()][:CSV_SAMPLE_ROWS]
    sample = "\n".join(lines)
    try:
        candidates = [csv.Sniffer().sniff(sample, delimiters=_CSV_DELIMITERS).delimiter]
    except csv.Error:
        candidates = list(_CSV_DELIMITERS)
    for delimiter in candidates:
        try:
            rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter, strict=True))
        except csv.Error:
            continue
        counts = Counter(len(row) for row in rows if any(cell.strip() for cell in row))
        if not counts:
            continue
        width, matching = counts.most_common(1)[0]
        # A summary or title line may differ; the table itself must not.
        if width >= 2 and matching >= 0.9 * sum(counts.values()):
            return
    raise _Refused("text that is not a table of comma-, semicolon- or tab-separated values")


def detect(f: UploadedFile) -> str:
    """The content type of ``f`` from its bytes, one of ``KINDS``; raises
    ``_Refused`` saying what it looks like otherwise."""
    f.seek(0)
    head = f.read(2048)
    f.seek(0)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"PK\x03\x04"):
        _xlsx(f)
        return XLSX
    if head.startswith(b"PK") or b"\x00" in head or b"%PDF-" in head[:1024]:
        raise _Refused(_describe(head))
    _csv(_read_all(f))
    return CSV


def check_upload(f: UploadedFile) -> Checked:
    """``f`` as a ``Checked`` proof if its content is one of the allowed
    kinds and it is within the size per file; ``MdfError`` on ``proofs``
    naming the file otherwise."""
    name = clean_name(f.name)
    size = f.size or 0
    if size <= 0:
        raise MdfError(f"{name} is empty.", field=FIELD)
    limit = max_file_bytes()
    if size > limit:
        raise MdfError(
            f"{name} is {file_size(size)}; a file may be at most {file_size(limit)}.",
            field=FIELD,
        )
    try:
        content_type = detect(f)
    except _Refused as refused:
        raise MdfError(
            f"{name} is not {ALLOWED} (its content is {refused.looks_like}).", field=FIELD
        ) from None
    digest = hashlib.sha256()
    f.seek(0)
    for chunk in f.chunks():
        digest.update(chunk)
    f.seek(0)
    return Checked(f, name, content_type, size, digest.hexdigest())


def check_uploads(
    files: Sequence[UploadedFile], *, existing_count: int = 0, existing_bytes: int = 0
) -> list[Checked]:
    """Every file of one upload, checked, within the claim's caps given what
    it already holds; the whole batch is refused (``MdfError`` on
    ``proofs``, naming the file and the limit) if any file breaks a cap or
    is not an allowed kind."""
    most = max_files()
    if existing_count + len(files) > most:
        index = max(most - existing_count, 0)
        raise MdfError(
            f"{clean_name(files[index].name)} would be file {existing_count + index + 1} "
            f"of this claim; a claim may have at most {most} files"
            + (f" (it has {existing_count} already)." if existing_count else "."),
            field=FIELD,
        )
    per_file, per_claim = max_file_bytes(), max_claim_bytes()
    total = existing_bytes
    for f in files:
        size = f.size or 0
        if size > per_file:
            raise MdfError(
                f"{clean_name(f.name)} is {file_size(size)}; "
                f"a file may be at most {file_size(per_file)}.",
                field=FIELD,
            )
        total += size
        if total > per_claim:
            raise MdfError(
                f"{clean_name(f.name)} would bring this claim's files to {file_size(total)}; "
                f"a claim's files may total at most {file_size(per_claim)}.",
                field=FIELD,
            )
    return [check_upload(f) for f in files]


# --- Storing -----------------------------------------------------------------------


def store_proof(claim: Claim, checked: Checked, *, kind: str, by_user: User) -> ProofFile:
    """Save ``checked`` as a proof of ``claim`` through the ``proofs``
    storage, under a random name (``proof_path``) with the extension of the
    detected type, and record it. If the record cannot be saved the stored
    file is deleted; a file whose record an outer transaction rolls back
    stays unreferenced in storage (never served: only a record's claim
    leads to it)."""
    proof = ProofFile(
        tenant_id=claim.tenant_id,
        claim=claim,
        kind=kind,
        original_name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        uploaded_by=by_user,
    )
    checked.file.seek(0)
    # The name given here is only a hint: proof_path ignores it.
    proof.file.save(f"proof{checked.extension}", checked.file, save=False)
    try:
        with transaction.atomic():
            proof.save()
    except Exception:
        proof.file.storage.delete(proof.file.name)
        raise
    return proof
