from django.http import HttpResponse, JsonResponse


def echo(request):
    return JsonResponse(
        {
            "api_key_id": getattr(request, "api_key_id", None),
            "body_length": len(request.body),
            "query": sorted(request.GET.lists()),
        }
    )


async def async_echo(request):
    return JsonResponse({"api_key_id": getattr(request, "api_key_id", None)})


def health(request):
    return HttpResponse("ok")
