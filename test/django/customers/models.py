from django.db import models


class Client(models.Model):
    """The django-tenants registry (a TenantMixin): one row per tenant schema."""
    schema_name = models.CharField(max_length=63, unique=True)
    name = models.CharField(max_length=100)
