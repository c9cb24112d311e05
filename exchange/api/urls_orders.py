"""Order entry routes."""

from exchange.api.orders import OrderApi, OrdersApi
from exchange.api.routing import route

urlpatterns = [
    route("api/v1/order", OrderApi, "api-order"),
    route("api/v1/orders", OrdersApi, "api-orders"),
]
