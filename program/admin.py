"""The program admin, one module per area."""

from . import admin_compliance as admin_compliance
