"""The per-request access token lookup, with its SQL compiled once instead of on every request.

Django's ORM compiles a queryset to SQL each time it runs it. For the one query a protected
resource makes per request (the token with its application, user and DPoP binding, by checksum),
compiling costs several times more than running the query on an indexed column. This module
compiles it once per model and database alias with a placeholder, then only executes it and
builds the instances the way Django's ``ModelIterable`` does (converters, ``from_db``, related
populators), so the result is the same objects the ORM would return.

It relies on ORM internals (``SQLCompiler``, ``get_related_populators``). Anything unexpected at
build time (a manager that adds its own filters, a backend that inlines parameters, a future
Django that changed the internals) turns the fast path off for that model and alias, and the
plain ORM query is used instead: same result, only slower.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.db import DatabaseError, connections, router
from django.db.models.query import get_related_populators

from ... import store_timeouts
from ...core.errors import StoreUnavailable


logger = logging.getLogger("django_dpop")

RELATED = ("application", "user", "dpop_binding")
_PLACEHOLDER = "django-dpop-token-checksum-placeholder"
# The column is unique; two rows would be a broken table, and .get() refuses that too.
_LIMIT = 2


class _CompiledLookup:
    """``model.objects.select_related(*RELATED).get(token_checksum=...)``, compiled once."""

    def __init__(self, model: type[Any], alias: str) -> None:
        queryset = model.objects.using(alias).select_related(*RELATED).filter(token_checksum=_PLACEHOLDER)
        queryset = queryset.order_by()[:_LIMIT]
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if tuple(params) != (_PLACEHOLDER,) or compiler.annotation_col_map:
            raise ValueError("unexpected shape of the compiled token lookup")
        klass_info = compiler.klass_info
        fields = klass_info["select_fields"]
        self.model = model
        self.alias = alias
        self.sql = sql
        self.compiler = compiler
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in compiler.select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, compiler.select, alias)
        if len(self.populators) != len(RELATED):
            raise ValueError("unexpected related populators in the token lookup")

    def __call__(self, checksum: str) -> Any | None:
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            store_timeouts.execute(connection, cursor, self.sql, (checksum,))
            rows = cursor.fetchmany(_LIMIT)
        if not rows:
            return None
        if len(rows) > 1:
            raise self.model.MultipleObjectsReturned("several access tokens share one checksum")
        # The compiler's database converters (datetimes on SQLite, JSON, ...), as the ORM applies,
        # with this thread's connection: the shared compiler holds the one of the thread that
        # built it (a shallow copy is cheap and leaves the shared object untouched).
        compiler = copy.copy(self.compiler)
        compiler.connection = connection
        row = next(iter(compiler.results_iter([rows])))
        instance = self.model.from_db(self.alias, self.init_list, row[self.start : self.end])
        for populator in self.populators:
            populator.populate(row, instance)
        return instance


_LOOKUPS: dict[tuple[type[Any], str, str], _CompiledLookup | None] = {}


def _orm_lookup(model: type[Any], checksum: str) -> Any | None:
    try:
        with store_timeouts.bounded(connections[router.db_for_read(model)]):
            return model.objects.select_related(*RELATED).get(token_checksum=checksum)
    except model.DoesNotExist:
        return None


def find_access_token(model: type[Any], checksum: str, *, compiled: bool = True) -> Any | None:
    """Return the ``model`` row with ``token_checksum`` and its ``RELATED`` rows, or None (one query).

    The query is bounded by ``DPOP_STORE_TIMEOUT`` (:mod:`django_dpop.store_timeouts`); a locked
    table, a timeout or a dropped connection raises :class:`StoreUnavailable` (503 at every
    adapter), never a database error that would become a 500.
    """
    try:
        return _find_access_token(model, checksum, compiled=compiled)
    except DatabaseError as exc:
        logger.warning("django_dpop: access token lookup failed: %s", exc)
        raise StoreUnavailable("Access token store unavailable") from exc


def _find_access_token(model: type[Any], checksum: str, *, compiled: bool) -> Any | None:
    if not compiled:
        return _orm_lookup(model, checksum)
    alias = router.db_for_read(model)
    key = (model, alias, connections[alias].vendor)
    try:
        lookup = _LOOKUPS[key]
    except KeyError:
        try:
            lookup = _CompiledLookup(model, alias)
        except Exception:  # any surprise from the internals: use the ORM for this model and alias
            logger.warning("django_dpop: compiled token lookup unavailable, using the ORM", exc_info=True)
            lookup = None
        _LOOKUPS[key] = lookup
    if lookup is None:
        return _orm_lookup(model, checksum)
    return lookup(checksum)
