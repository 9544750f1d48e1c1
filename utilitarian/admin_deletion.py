"""The admin's delete confirmation page, for objects that own rows by the million.

Django's admin lists every object a delete would take with it, loading each one: a meter with a
few years of quarter-hourly readings, or an organization with all of its meters, would load
millions of rows into memory and render a page of millions of lines. Models that accumulate
rows like that set ``bulk_rows = True``; :class:`BulkRowsDeleteMixin` shows those rows as a
count per model instead, through an index-bounded ``COUNT`` of the related rows. Everything
else is listed as Django lists it, with links, permissions and protected objects. Only the page
changes: the delete itself is Django's (rows reached by ``CASCADE`` with no signals of their
own go in one ``DELETE`` statement per relation).
"""

from __future__ import annotations

from django.contrib.admin.utils import NestedObjects, quote
from django.db import models, router
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst


class _BulkCountingCollector(NestedObjects):
    """Collects like the admin's collector, except that rows of ``bulk_rows`` models reached by
    ``CASCADE`` are kept as querysets to count (Django's fast-delete slot) instead of loaded."""

    def can_fast_delete(self, objs, from_field=None) -> bool:
        return (
            from_field is not None
            and from_field.remote_field.on_delete is models.CASCADE
            and getattr(objs, "bulk_rows", False)
        )


class BulkRowsDeleteMixin:
    def get_deleted_objects(self, objs, request: HttpRequest):
        objs = list(objs)
        if not objs:
            return [], {}, set(), []
        collector = _BulkCountingCollector(using=router.db_for_write(objs[0]._meta.model), origin=objs)
        collector.collect(objs)
        site = self.admin_site
        perms_needed: set[str] = set()

        def describe(obj: models.Model) -> str:
            opts = obj._meta
            label = f"{capfirst(opts.verbose_name)}: {obj}"
            if not site.is_registered(opts.model):
                return label
            if not site.get_model_admin(opts.model).has_delete_permission(request, obj):
                perms_needed.add(opts.verbose_name)
            try:
                url = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
            except NoReverseMatch:
                return label
            return format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, obj)

        listed = collector.nested(describe)
        counts = {
            model._meta.verbose_name_plural: len(found) for model, found in collector.model_objs.items()
        }
        # One count per model over the union of the relations that reach it (readings are reached
        # from an organization both directly and through its meters).
        reached: dict[type[models.Model], models.QuerySet] = {}
        for queryset in collector.fast_deletes:
            queryset = queryset.select_related(None).order_by()
            model = queryset.model
            reached[model] = reached[model] | queryset if model in reached else queryset
        for model, queryset in reached.items():
            count = queryset.count()
            if count:
                plural = model._meta.verbose_name_plural
                counts[plural] = counts.get(plural, 0) + count
                listed.append(f"{capfirst(plural)}: {count:,} (counted, not listed)")
        protected = [describe(obj) for obj in collector.protected]
        return listed, counts, perms_needed, protected
