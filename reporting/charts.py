"""The dashboards' charts: ``Chart`` and ``Series`` (see :mod:`prm.charts`).

The chart is part of the design system (the style guide shows it, any app
may draw one), so its code lives in the foundation, which never imports an
app; reporting's pages import it from here.
"""

from prm.charts import KINDS, Cell, Chart, Kind, Row, Series, Table, Value, format_value

__all__ = ["KINDS", "Cell", "Chart", "Kind", "Row", "Series", "Table", "Value", "format_value"]
