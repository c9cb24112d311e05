"""Routes: filled in by the orders work."""

urlpatterns: list = []
