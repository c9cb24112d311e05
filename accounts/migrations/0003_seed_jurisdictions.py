"""Seed one Jurisdiction row per ISO 3166-1 country from accounts.countries (the starting rules:
EU/EEA residents get no derivatives until the licence exists; blocked countries no onboarding)."""

from django.db import migrations

from accounts.countries import BLOCKED, COUNTRIES, EU_EEA, EU_HIGH_RISK


def seed(apps, schema_editor):
    Jurisdiction = apps.get_model("accounts", "Jurisdiction")
    rows = []
    for code, name in COUNTRIES.items():
        if code in BLOCKED:
            note = "Comprehensive sanctions or FATF call for action: no onboarding."
        elif code in EU_EEA:
            note = "EU/EEA: no perpetual futures until the derivatives licence exists."
        else:
            note = ""
        rows.append(
            Jurisdiction(
                country=code,
                name=name,
                onboarding_allowed=code not in BLOCKED,
                derivatives_allowed=code not in EU_EEA and code not in BLOCKED,
                is_eu_eea=code in EU_EEA,
                is_high_risk=code in EU_HIGH_RISK,
                note=note,
            )
        )
    Jurisdiction.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    apps.get_model("accounts", "Jurisdiction").objects.filter(country__in=list(COUNTRIES)).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_kyc_profiles_cases_jurisdictions")]

    operations = [migrations.RunPython(seed, unseed)]
