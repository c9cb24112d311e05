"""Routes: filled in by the custody work."""

urlpatterns: list = []
