"""Onboarding's REST API resources (``PRMApp.api``): partner applications
and their decision, the training catalogue, people's training and
certification records and their import, agreement acceptances and
onboarding plans. One module per area; ``ROUTES`` lists them all."""

from . import applications, partner_onboarding, training

ROUTES = [*applications.ROUTES, *training.ROUTES, *partner_onboarding.ROUTES]
