from django.urls import path

from exchange.web import addresses, views, wallet

app_name = "web"
urlpatterns = [
    path("markets/", views.markets, name="markets"),
    path("trade/<str:symbol>/", views.trade, name="trade"),
    path("wallet/", wallet.wallet, name="wallet"),
    path("wallet/demo-deposit/", wallet.demo_deposit, name="demo_deposit"),
    path("wallet/addresses/", addresses.address_book, name="address_book"),
    path("wallet/addresses/<int:entry_id>/remove/", addresses.address_remove, name="address_remove"),
    path("wallet/addresses/<int:entry_id>/proof/", addresses.address_proof_start, name="address_proof_start"),
    path(
        "wallet/addresses/<int:entry_id>/proof/demo-send/",
        addresses.address_proof_demo_send,
        name="address_proof_demo_send",
    ),
]
