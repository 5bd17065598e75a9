from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)


class Note(models.Model):
    body = models.TextField()
    item = models.ForeignKey(Item, on_delete=models.CASCADE, null=True)


class Tag(models.Model):
    """A GenericForeignKey: content_type is a real ForeignKey(ContentType), object_id the row's id."""
    label = models.CharField(max_length=100)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey('content_type', 'object_id')
