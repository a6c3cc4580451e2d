"""Field sizes shared by the incentives models."""

MONEY = {"max_digits": 18, "decimal_places": 3}
RATE = {"max_digits": 18, "decimal_places": 8}
PERCENT = {"max_digits": 7, "decimal_places": 4}
