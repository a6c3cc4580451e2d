"""Django's own date displays (the admin's read-only fields, ``|date`` without
a format) in the product's one date and date-time format: "3 Dec 2026" and
"3 Dec 2026, 14:05" (prm/format.py). Input formats stay Django's."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j M"
YEAR_MONTH_FORMAT = "F Y"
