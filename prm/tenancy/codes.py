"""Short public codes for URLs and phone calls: ``DR-7KQ2M9XA``.

A prefix, a hyphen and eight characters from an alphabet without 0/O/1/I
(easy to read out), drawn with ``secrets``: 32**8 ≈ 10**12 codes per prefix,
so a guess finds nothing and a collision is left to the unique constraint.
"""

import secrets

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def public_code(prefix: str, length: int = CODE_LENGTH) -> str:
    """A new random code ``<prefix>-XXXXXXXX``."""
    return f"{prefix}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalize_code(value: str) -> str:
    """A code as typed (any case, spaces around) in its stored form."""
    return (value or "").strip().upper()
