from django.db import models


class TodoItem(models.Model):
    title = models.CharField(max_length=256, blank=True, null=True)
    completed = models.BooleanField(default=False)
    order = models.IntegerField(blank=True, null=True)
    # Set by the view once the item has an id: clients follow it, as the
    # Todo-Backend spec asks.
    url = models.CharField(max_length=256, blank=True, null=True)
