"""ASGI entry point: HTTP (Django, plus /static/ from frontend/dist, precompressed and cached by
labplatform/static.py) and websockets (grading consumers).

Websockets go through AllowedHostsOriginValidator (cross-site sockets are refused) and AuthMiddlewareStack (the
Django session identifies the learner).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labplatform.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from grading.routing import websocket_urlpatterns  # noqa: E402
from grading.tasks import publisher_warm_start  # noqa: E402
from labplatform.static import CompressedStaticFilesHandler  # noqa: E402

publisher_warm_start()  # the broker connection a web process's first submit would otherwise open

application = ProtocolTypeRouter(
    {
        "http": CompressedStaticFilesHandler(django_asgi_app)
        if settings.LAB_SERVE_STATIC
        else django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
