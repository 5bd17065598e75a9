from django.http import JsonResponse
from django.urls import path


def items(request):
    """What a tenant's request sees: its items, through the middleware's tenant."""
    from shop.models import Item
    return JsonResponse({'items': sorted(Item.objects.values_list('name', flat=True))})


def add_item(request):
    from shop.models import Item
    item = Item.objects.create(name=request.GET['name'])
    return JsonResponse({'id': item.id})


urlpatterns = [path('items/', items), path('add/', add_item)]
