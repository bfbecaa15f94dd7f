from django.http import HttpResponse


def teapot(request, exception):
    return HttpResponse("slow down", status=418)


def tenant_key(request):
    # Touches the ORM-free request only, but is a plain sync callable on purpose.
    return request.headers.get("X-Tenant")
