from django.apps import AppConfig


class DeclaredSampleConfig(AppConfig):
    """An app that exists only in the test settings: it declares itself in
    its own folder and must appear everywhere the product lists apps
    (tests/tenancy/test_declarations.py)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "tests.declared_app"
    label = "declared_sample"
    verbose_name = "Declared sample"
