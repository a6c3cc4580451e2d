"""Normalizing organisation names and web domains for duplicate and conflict
checks. Deal registration's customer matching uses the same functions."""

import re
import unicodedata
from urllib.parse import urlsplit

# Legal-form words dropped from the end of a name ("Acme Corp., Inc." -> "acme").
LEGAL_SUFFIXES = frozenset(
    [
        "ab",
        "ag",
        "as",
        "asa",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "kk",
        "limited",
        "llc",
        "llp",
        "lp",
        "ltd",
        "nv",
        "oy",
        "plc",
        "pte",
        "pty",
        "sa",
        "sarl",
        "sas",
        "spa",
        "srl",
        "ulc",
    ]
)
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    """Lowercase, accents and punctuation removed, ``&`` read as "and",
    trailing legal forms dropped, white space collapsed."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("&", " and ")
    # Dotted abbreviations ("s.a.", "b.v.") become one word before punctuation goes.
    text = re.sub(r"\b(\w)\.(?=\w\.)", r"\1", text)
    text = _PUNCTUATION.sub(" ", text)
    words = _SPACES.sub(" ", text).strip().split(" ")
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(w for w in words if w)


def normalize_domain(value: str) -> str:
    """The bare host of a website or email domain: no scheme, port, path,
    ``www.`` or trailing dot; lowercase; international names in punycode.
    Returns "" for an empty value and raises ValueError for one that is not
    a domain."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    if "@" in value and "://" not in value:
        value = value.rsplit("@", 1)[1]
    if "://" not in value:
        value = "http://" + value
    host = urlsplit(value).hostname or ""
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"“{value}” is not a valid domain.") from exc
    if "." not in host or not re.fullmatch(r"[a-z0-9.-]+", host) or ".." in host:
        raise ValueError(f"“{value}” is not a valid web domain (expected e.g. example.com).")
    return host
