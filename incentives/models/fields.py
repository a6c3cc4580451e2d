"""Field sizes shared by the incentives models."""

from typing import Any

MONEY: dict[str, Any] = {"max_digits": 18, "decimal_places": 3}
RATE: dict[str, Any] = {"max_digits": 18, "decimal_places": 8}
PERCENT: dict[str, Any] = {"max_digits": 7, "decimal_places": 4}
