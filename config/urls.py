from django.contrib import admin
from django.urls import include, path, re_path

from core.api import api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("exchange.api.urls")),
    path("", include("exchange.web.urls")),
    re_path(r"^(api|wapi)/", api_not_found),
    path("", include("accounts.urls")),
]
