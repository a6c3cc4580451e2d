from prm.tenancy.errors import ServiceError


class ProgramError(ServiceError):
    """A refused partner-program operation; the message is for the person."""
