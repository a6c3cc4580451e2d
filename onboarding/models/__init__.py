from .agreements import Acceptance, Agreement, AgreementVersion
from .applications import Application, ApplicationCheck, ApplicationEvent
from .config import AssignmentRule, OnboardingSettings, Question, VettingCheck
from .plans import (
    AUTOMATIC_KINDS,
    Owner,
    Plan,
    PlanStep,
    PlanTemplate,
    StepKind,
    TemplateStep,
)

__all__ = [
    "AUTOMATIC_KINDS",
    "Acceptance",
    "Agreement",
    "AgreementVersion",
    "Application",
    "ApplicationCheck",
    "ApplicationEvent",
    "AssignmentRule",
    "OnboardingSettings",
    "Owner",
    "Plan",
    "PlanStep",
    "PlanTemplate",
    "Question",
    "StepKind",
    "TemplateStep",
    "VettingCheck",
]
