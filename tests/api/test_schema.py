"""The OpenAPI document: valid OpenAPI 3, every operation with an example,
and the reference page served from vendored files under the CSP."""

import pytest
from django.test import Client
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}


def schema(acme) -> dict:
    response = Client(HTTP_HOST=acme.host).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def has_example(operation: dict) -> bool:
    bodies = [operation.get("requestBody", {})]
    bodies += [r for code, r in operation.get("responses", {}).items() if code.startswith("2")]
    for body in bodies:
        for media in body.get("content", {}).values():
            if media.get("examples") or media.get("example"):
                return True
    return False


def test_schema_is_valid_openapi_and_every_operation_has_an_example(acme):
    document = schema(acme)
    validate(document)
    operations = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    assert len(operations) >= 7
    missing = [f"{method.upper()} {path}" for path, method, op in operations if not has_example(op)]
    assert not missing, f"Operations without an example: {missing}"
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"]["scheme"] == "bearer"
    assert all({"apiKey": []} in op["security"] for _, _, op in operations)


def test_reference_page_uses_only_our_own_files(acme):
    response = Client(HTTP_HOST=acme.host).get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "https://" not in page.replace("https://<portal>", "")
    policy = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
