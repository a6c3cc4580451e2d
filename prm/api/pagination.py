"""Cursor pagination: ``?cursor=`` (opaque, from ``next`` / ``previous``)
and ``?limit=`` (1 to 200, 50 by default). Lists are newest first by
default (ids are time-ordered UUIDs); ``?ordering=`` picks another declared
order. A cursor stays right while rows are added, unlike page numbers."""

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = "-id"
