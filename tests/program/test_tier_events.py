"""The tier evaluation's moves send partner.tier_changed webhook events,
written in bulk with the moves (partners.events.tiers_changed)."""

import pytest

from partners import tiers as tier_history
from prm.webhooks.models import WebhookDelivery, WebhookEvent
from program.evaluation import Trigger, evaluate
from tests.webhooks.conftest import make_endpoint

from . import builders as b

pytestmark = pytest.mark.django_db


def test_the_evaluations_bulk_moves_send_one_event_each(world, tiers):
    b.version(
        world,
        {
            tiers["Silver"]: (0, [(b.Kind.WON_REVENUE, "10", True, None)]),
            tiers["Gold"]: (0, [(b.Kind.WON_REVENUE, "100", True, None)]),
        },
    )
    tier_history.set_tier(world.partner, tiers["Silver"], by=None, reason="manual")
    make_endpoint(world.tenant, events=("partner.tier_changed",))
    b.win(world, world.partner, "100", on=b.TODAY)
    run = evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
    sent = list(WebhookEvent.objects.filter(type="partner.tier_changed"))
    assert run.upgrades == len(sent) == 1
    assert sent[0].data["partner"]["id"] == str(world.partner.pk)
    assert (sent[0].data["previous"]["name"], sent[0].data["tier"]["name"]) == ("Silver", "Gold")
    assert sent[0].data["reason"] == "upgrade"
    assert WebhookDelivery.objects.filter(event__in=sent).count() == 1
