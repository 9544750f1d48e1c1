"""Limit/offset pagination as the contract describes (default 100 items, at most 10,000)."""

from rest_framework.pagination import LimitOffsetPagination as _LimitOffsetPagination


class LimitOffsetPagination(_LimitOffsetPagination):
    default_limit = 100
    max_limit = 10_000
