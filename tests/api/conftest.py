"""API test helpers: a key acting as a persona, and a client that sends it."""

import json
from typing import Any

import pytest
from django.test import Client

from prm.api import keys


class ApiClient:
    """A client on ``host`` sending ``token`` as its bearer key (or none)."""

    def __init__(self, host: str, token: str | None = None) -> None:
        self.client = Client(HTTP_HOST=host)
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        found = dict(headers or {})
        if self.token is not None:
            found.setdefault("Authorization", f"Bearer {self.token}")
        return found

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return getattr(self.client, method)(
            path, data, content_type="application/json", headers=self._headers(headers)
        )

    def post(self, path: str, body: Any = None, **headers: str):
        return self._send("post", path, {} if body is None else body, headers)

    def patch(self, path: str, body: Any, **headers: str):
        return self._send("patch", path, body, headers)

    def put(self, path: str, body: Any, **headers: str):
        return self._send("put", path, body, headers)

    def delete(self, path: str, **headers: str):
        return self.client.delete(path, headers=self._headers(headers))


def make_key(world, role: str, scopes: list[str] | None = None, **kwargs: Any):
    """A key acting as ``world``'s ``role`` persona: every scope the role
    may have unless ``scopes`` says which. Returns (key, token)."""
    membership = world[role]
    with world.scope():
        allowed = [value for value, _ in keys.scope_choices(membership)]
        return keys.create_key(
            tenant=world.tenant,
            membership=membership,
            by=membership.user,
            name=kwargs.pop("name", f"{role} key"),
            scopes=allowed if scopes is None else scopes,
            expires_at=kwargs.pop("expires_at", None),
            **kwargs,
        )


@pytest.fixture
def api():
    """``api(world, role, scopes=None)``: a client with a new key of that
    persona; ``api(world)``: one with no key."""

    def build(world, role: str | None = None, scopes: list[str] | None = None) -> ApiClient:
        if role is None:
            return ApiClient(world.host)
        _, token = make_key(world, role, scopes)
        return ApiClient(world.host, token)

    return build
