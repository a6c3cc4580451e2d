"""How an app lists its API resources: its ``api`` module (named in its
declaration, ``PRMApp.api``) holds ``ROUTES``, a sequence of ``Route``."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    """``prefix`` under /api/v1/ ("registrations"), the viewset, and the
    URL names' base ("registration": api:registration-list ...)."""

    prefix: str
    viewset: Any
    basename: str
