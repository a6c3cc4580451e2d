from prm.tenancy.roles import Role

PORTAL_ROUTES: dict = {"declared_sample:index": {"allowed": {Role.OPS_ADMIN, Role.EXECUTIVE}}}
