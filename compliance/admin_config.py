"""django.contrib.admin's app config with the staff site (two-factor authentication mandatory)."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "compliance.admin_site.StaffAdminSite"
