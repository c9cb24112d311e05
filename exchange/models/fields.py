from django.db import models


def amount_field(**kwargs: object) -> models.DecimalField:
    """Every stored amount: 38 digits, 18 decimals (fits any asset's native precision)."""
    return models.DecimalField(max_digits=38, decimal_places=18, **kwargs)  # type: ignore[arg-type]
