from django.http import HttpResponse


def teapot(request, exception):
    return HttpResponse("slow down", status=418)
