from django.http import HttpRequest, HttpResponse

from prm.tenancy.access import role_required


@role_required("declared_sample.view")
def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Samples of " + request.tenant.name, content_type="text/plain")
