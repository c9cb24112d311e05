from django.urls import path

from exchange.web import views

app_name = "web"
urlpatterns = [
    path("markets/", views.markets, name="markets"),
    path("wallet/", views.wallet, name="wallet"),
]
