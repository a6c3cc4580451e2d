"""The demo's API keys (README, "Demo logins"): made by the demo step with
every scope of their member's role, working at once, made once."""

import pytest

from prm.api import demo
from prm.api.models import ApiKey
from prm.tenancy import registry
from prm.tenancy.demo import tenant_context

from .conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_the_demo_keys_work_and_are_made_once(acme):
    steps = dict(registry.demo_steps())
    with acme.scope():
        ctx = tenant_context(acme.tenant, scale=0.05)
        steps["partners"](ctx)
        steps["api"](ctx)
        steps["api"](ctx)  # safe to run again
        keys = list(ApiKey.objects.order_by("prefix"))
    assert [k.prefix for k in keys] == ["acmeops1", "acmepad1"]
    ops = ApiClient(acme.host, f"prm_acmeops1_{demo.SECRET}")
    partner = ApiClient(acme.host, f"prm_acmepad1_{demo.SECRET}")
    everyone = ops.get("/api/v1/partners/").json()["results"]
    own = partner.get("/api/v1/partners/").json()["results"]
    assert len(everyone) > 1 and len(own) == 1
    assert own[0]["id"] == str(ctx.people["partner_admin"].partner_id)
