"""ASGI entry point: HTTP (Django, plus /static/ from frontend/dist, precompressed and cached by
labplatform/static.py) and websockets (grading consumers).

Websockets go through AllowedHostsOriginValidator (cross-site sockets are refused) and AuthMiddlewareStack (the
Django session identifies the learner).

Warm-up on daemon threads at import, so the first learners after a start or a deploy do not pay for it: in
production mode the broker connection (``publisher_warm_start``); in a process that serves (``runlab`` sets
``LAB_WEB_WARM=1`` for its web processes) every module's guides (``modules.selectors.guides_warm``), which a
test process importing the app does not render.
"""

import logging
import os
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labplatform.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402

from grading.routing import websocket_urlpatterns  # noqa: E402
from grading.tasks import publisher_warm_start  # noqa: E402
from labplatform.static import CompressedStaticFilesHandler  # noqa: E402
from modules.selectors import guides_warm  # noqa: E402

log = logging.getLogger(__name__)


def _guides_warm() -> None:
    try:
        log.info("web process: %d guides rendered ahead of their first visit", guides_warm())
    except Exception:  # a database not migrated yet, say: the first visits render them instead
        log.warning("web process: could not render the guides ahead", exc_info=True)
    finally:
        connections.close_all()  # this thread's own


def guides_warm_start() -> threading.Thread:
    """``guides_warm`` on a daemon thread, so the process serves at once."""
    thread = threading.Thread(target=_guides_warm, name="web-guides-warm", daemon=True)
    thread.start()
    return thread


publisher_warm_start()  # the broker connection a web process's first submit would otherwise open
if os.environ.get("LAB_WEB_WARM") == "1":
    guides_warm_start()

application = ProtocolTypeRouter(
    {
        "http": CompressedStaticFilesHandler(django_asgi_app)
        if settings.LAB_SERVE_STATIC
        else django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
