"""Staff roles: one group each, with exactly the permissions the job needs (issue 5).

    compliance officer  reads customers, cases, alerts, custody and the audit trail; decides KYC
                        cases, alerts, held withdrawals (four-eyes) and held deposits
    support agent       reads customers' accounts and transfers to answer them; decides nothing,
                        and sees no alerts (telling a customer about one is tipping-off, AMLD Art. 39)
    auditor             every view permission, nothing else: reads all, changes nothing
    administrator       configuration (assets, tokens, markets, fees, jurisdictions) and staff
                        accounts; no compliance decision, so nobody configures and approves alike

Permissions are "app_label.codename". `staff_roles_sync` (a migration runs it) sets each group to
exactly this list; an entry whose model does not exist (yet) is skipped.
"""

from __future__ import annotations

from typing import Any

COMPLIANCE_OFFICER = "compliance officer"
SUPPORT_AGENT = "support agent"
AUDITOR = "auditor"
ADMINISTRATOR = "administrator"

# Apps whose view permissions the auditor gets: every record the exchange keeps.
AUDITED_APPS = ("accounts", "compliance", "exchange", "lending", "auth", "admin")

_CUSTOMER_READ = [
    "accounts.view_user",
    "accounts.view_kycprofile",
    "accounts.view_kyccase",
    "exchange.view_deposit",
    "exchange.view_withdrawal",
    "exchange.view_withdrawaladdress",
    "exchange.view_ledgeraccount",
    "exchange.view_order",
    "exchange.view_fill",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    COMPLIANCE_OFFICER: [
        *_CUSTOMER_READ,
        "accounts.view_kycdocument",
        "accounts.view_jurisdiction",
        "accounts.review_kyc",
        "compliance.view_alert",
        "compliance.decide_alert",
        "compliance.view_watchlistentry",
        "compliance.view_screeningprofile",
        "compliance.view_complianceflag",
        "compliance.view_auditentry",
        "compliance.view_travelrulerecord",
        "exchange.view_journalentry",
        "exchange.approve_withdrawal",
        "exchange.review_deposit",
    ],
    SUPPORT_AGENT: list(_CUSTOMER_READ),
    AUDITOR: [],  # every view permission of AUDITED_APPS, computed at sync
    ADMINISTRATOR: [
        "accounts.view_user",
        "accounts.change_user",
        "accounts.view_jurisdiction",
        "accounts.change_jurisdiction",
        "auth.view_group",
        "exchange.view_asset",
        "exchange.add_asset",
        "exchange.change_asset",
        "exchange.view_assettoken",
        "exchange.add_assettoken",
        "exchange.change_assettoken",
        "exchange.view_market",
        "exchange.add_market",
        "exchange.change_market",
        "exchange.view_feetier",
        "exchange.add_feetier",
        "exchange.change_feetier",
        "exchange.view_deposit",
        "exchange.add_deposit",  # the staff deposit credit form
    ],
}


def staff_roles_sync(apps: Any) -> None:
    """Create the four groups and set each one's permissions to exactly its list.

    `apps` is a migration's app registry (or django.apps.apps). Permissions are created first, as
    Django would after migrating, so that a fresh database gets complete groups in one migrate.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Migration state app configs have no models module, which makes create_permissions skip
        # them; it only checks that one is set.
        had_module = getattr(app_config, "models_module", None)
        app_config.models_module = had_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = had_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        if role == AUDITOR:
            permissions = list(
                Permission.objects.filter(
                    content_type__app_label__in=AUDITED_APPS, codename__startswith="view_"
                )
            )
        else:
            permissions = []
            for name in names:
                app_label, codename = name.split(".", 1)
                found = Permission.objects.filter(
                    content_type__app_label=app_label, codename=codename
                ).first()
                if found is not None:
                    permissions.append(found)
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(permissions)
