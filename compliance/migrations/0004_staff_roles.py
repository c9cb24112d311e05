"""Staff roles as groups (compliance.roles). Runs after the accounts and exchange migrations that
declare the permissions the roles hold (accounts.review_kyc, exchange.approve_withdrawal, ...)."""

from django.db import migrations

from compliance.roles import staff_roles_sync


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    staff_roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0003_travel_rule_record"),
        ("accounts", "0003_seed_jurisdictions"),
        ("exchange", "0004_custody_controls"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
