"""The deal registration admin, one module per area: registrations
(``admin_registrations``, with ``admin_lists``) and configuration
(``admin_config``)."""

from . import admin_config, admin_registrations  # noqa: F401
