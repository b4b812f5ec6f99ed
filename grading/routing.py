"""Websocket routes (mounted by labplatform.asgi under AuthMiddlewareStack)."""

from django.urls import path

from grading.consumers import GradingConsumer

websocket_urlpatterns = [path("ws/grading/", GradingConsumer.as_asgi())]
