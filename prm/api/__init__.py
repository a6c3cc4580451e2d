"""The REST API (``/api/v1/`` on each tenant host): the foundation every
app's resources are built on. See ``views.TenantViewSet``."""
