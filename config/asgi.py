"""ASGI entry point: Django (HTTP) and Channels (WebSocket at `/`) in one server."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from exchange.consumers import StreamConsumer  # noqa: E402

# No origin check and no session middleware: the socket carries no ambient credentials (private
# streams are authorised by the signature inside each SUBSCRIBE), so a cross-site page gains
# nothing by opening it.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("", StreamConsumer.as_asgi())]),
    }
)
