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
from .training import Certification, Course, Function, TrainingRecord, valid_on

__all__ = [
    "AUTOMATIC_KINDS",
    "Acceptance",
    "Agreement",
    "AgreementVersion",
    "Application",
    "ApplicationCheck",
    "ApplicationEvent",
    "AssignmentRule",
    "Certification",
    "Course",
    "Function",
    "OnboardingSettings",
    "Owner",
    "Plan",
    "PlanStep",
    "PlanTemplate",
    "Question",
    "StepKind",
    "TemplateStep",
    "TrainingRecord",
    "VettingCheck",
    "valid_on",
]
