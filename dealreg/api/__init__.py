"""Deal registration's REST API (``PRMApp.api``): registrations, the
product lines they name, and the vendor's direct opportunities (the CRM
sync). One module per resource group: ``registrations``, ``direct``."""

from prm.api.routes import Route

from .direct import DirectOpportunityViewSet
from .registrations import ProductLineViewSet, RegistrationViewSet

ROUTES = [
    Route("registrations", RegistrationViewSet, "registration"),
    Route("product-lines", ProductLineViewSet, "product-line"),
    Route("direct-opportunities", DirectOpportunityViewSet, "direct-opportunity"),
]
