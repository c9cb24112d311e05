"""ASGI entry point: Django (HTTP) and Channels (WebSocket at `/`) in one server."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402
from django.urls import get_resolver, path  # noqa: E402

from config.asgi_http import PooledThreadASGIHandler  # noqa: E402
from exchange.api import fast_orders  # noqa: E402
from exchange.consumers import StreamConsumer  # noqa: E402
from exchange.services.done_listener import done_listener_start  # noqa: E402

# Load now what the first requests would otherwise load under load, each waiting on the import
# lock: the URLconf with every view, and the Celery app the order path rings the matching worker
# through.
get_resolver().url_patterns  # noqa: B018
import exchange.tasks  # noqa: E402, F401

# HTTP: Django's handler with one thread hop per request on reused threads (config/asgi_http.py);
# REST calls waiting for the matching worker share one Redis subscription on the loop; signed
# order placement and cancel are served beside Django, on the loop (exchange/api/fast_orders.py).
# Cookies reach the consumer so the web UI's socket can use its login session for private streams;
# the consumer reads the session itself, and only when the Origin is this site (cross-site
# WebSocket hijacking). API clients sign each private SUBSCRIBE instead. Public streams need
# neither, so no socket is refused at connect.
application = ProtocolTypeRouter(
    {
        "http": PooledThreadASGIHandler(
            on_loop=done_listener_start, fast=(fast_orders.fast_order_call, fast_orders.serve)
        ),
        "websocket": CookieMiddleware(URLRouter([path("", StreamConsumer.as_asgi())])),
    }
)
