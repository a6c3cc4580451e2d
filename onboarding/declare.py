"""Onboarding's declaration: the public application page, vetting in the
admin, onboarding plans and agreements."""

from prm.tenancy.declarations import PRMApp

from .agreements import GATE

APP = PRMApp(
    label="onboarding",
    gates=(GATE,),
)
