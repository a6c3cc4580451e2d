from django.urls import reverse

from partners.models import Partner
from prm.tenancy.declarations import (
    Card,
    Count,
    Good,
    Metric,
    NavEntry,
    PRMApp,
    Unit,
    WebhookEvent,
)
from prm.tenancy.roles import Role

SEE = "declared_sample.view"


def partner_count(tenant, period, filters) -> int:
    return Partner.objects.filter(created_at__date__lte=period.end).count()


def sample_counts(membership) -> list[Count]:
    return [Count("2 samples waiting for you", reverse("declared_sample:index") + "?waiting=1")]


APP = PRMApp(
    label="declared_sample",
    permissions={SEE: {Role.OPS_ADMIN, Role.EXECUTIVE}},
    nav=(NavEntry("declared_sample:index", "Samples", (SEE,), order=700),),
    cards=(
        Card(
            key="declared_sample.card",
            title="Samples",
            url_name="declared_sample:index",
            perms=(SEE,),
            description="The sample app's work.",
            counts=sample_counts,
        ),
    ),
    urls="tests.declared_app.urls",
    url_prefix="sample/",
    beat={"declared-sample-tick": {"task": "tests.declared_app.tasks.tick", "schedule": 900.0}},
    demo="tests.declared_app.demo.seed",
    demo_after=("partners",),
    url_matrix="tests.declared_app.url_matrix",
    metrics=(
        Metric(
            key="declared_sample.partners",
            name="Partners in the directory",
            definition="Partners created on or before the period's last day.",
            unit=Unit.COUNT,
            good=Good.HIGH,
            compute=partner_count,
            drill=lambda tenant, period, filters: reverse("declared_sample:index"),
            perms=(SEE,),
        ),
    ),
    webhook_events=(WebhookEvent("sample.happened", "Something happened to a sample"),),
)
