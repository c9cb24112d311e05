"""Routes: filled in by the market_data work."""

urlpatterns: list = []
