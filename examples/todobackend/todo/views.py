from rest_framework import generics

from .models import TodoItem
from .serializers import TodoItemSerializer


class TodoList(generics.ListCreateAPIView):
    queryset = TodoItem.objects.order_by("id")
    serializer_class = TodoItemSerializer

    def perform_create(self, serializer):
        item = serializer.save()
        # The id exists only after the insert, so the url takes a second save.
        item.url = self.request.build_absolute_uri(f"/todos/{item.id}")
        item.save(update_fields=["url"])


class TodoDetail(generics.RetrieveUpdateDestroyAPIView):
    queryset = TodoItem.objects.all()
    serializer_class = TodoItemSerializer
