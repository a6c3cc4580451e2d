from prm.tenancy.errors import ServiceError


class MdfError(ServiceError):
    """A refused MDF operation: a message for the person and, when there is
    one, the form field it belongs to (see ``prm.tenancy.errors``)."""
