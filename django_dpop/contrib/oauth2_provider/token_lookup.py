"""The per-request access token lookup, with its SQL built once instead of on every request.

Django's ORM compiles a queryset to SQL each time it runs it. For the one query a protected
resource makes per request (the token with its application, user and DPoP binding, by checksum),
compiling costs several times more than running the query on an indexed column. This module
writes that query once per model and database alias from the models' documented ``_meta`` API
(tables, columns, relations), then only executes it and builds the instances with the
documented ``Model.from_db``, applying the database converters the ORM applies
(``connection.ops.get_db_converters`` and each field's ``from_db_value``). Related rows are
attached through the models' own descriptors, as assigning them in code would.

No private ORM machinery is involved, so a new Django does not turn it off. Anything the query
cannot express (a default manager that filters or orders rows, relations that are not the
expected foreign keys, a model on another database alias than its relations) turns the fast
path off for that model and alias with one warning line, and the plain ORM query is used
instead: same result, only slower.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db import DatabaseError, connections, models, router

from ... import store_timeouts
from ...core.errors import StoreUnavailable


logger = logging.getLogger("django_dpop")

RELATED = ("application", "user", "dpop_binding")
# The column is unique; two rows would be a broken table, and .get() refuses that too.
_LIMIT = 2
# Where the thumbprint of the binding found by the lookup is kept on the instance (None: unbound),
# so that an unbound token needs no second query to say so.
BINDING_JKT_ATTRIBUTE = "_dpop_binding_jkt"

Converter = Callable[[Any, Any, Any], Any]


class _Columns:
    """The concrete fields of one model, as selected from one table alias."""

    def __init__(self, model: type[models.Model], table_alias: str, connection: Any) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        quote = connection.ops.quote_name
        self.sql = [f"{quote(table_alias)}.{quote(field.column)}" for field in self.fields]
        self.converters: list[tuple[int, list[Converter], Any]] = []
        for index, field in enumerate(self.fields):
            expression = field.get_col(table_alias)
            converters = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
            if converters:
                self.converters.append((index, converters, expression))
        self.pk_index = self.fields.index(model._meta.pk)

    def build(self, alias: str, values: Sequence[Any], connection: Any) -> models.Model | None:
        values = list(values)
        for index, converters, expression in self.converters:
            value = values[index]
            for converter in converters:
                value = converter(value, expression, connection)
            values[index] = value
        if values[self.pk_index] is None:  # LEFT OUTER JOIN without a match
            return None
        return self.model.from_db(alias, self.attnames, values)


def _plain_manager(model: type[models.Model]) -> bool:
    """True when the default manager returns every row unordered, as the hand-written query does."""
    manager = model._default_manager
    return type(manager).get_queryset is models.Manager.get_queryset and not model._meta.ordering


class _CompiledLookup:
    """``model._default_manager.select_related(*RELATED).get(token_checksum=...)``, written once."""

    def __init__(self, model: type[models.Model], alias: str) -> None:
        connection = connections[alias]
        meta = model._meta
        application = meta.get_field("application")
        user = meta.get_field("user")
        binding = meta.get_field("dpop_binding")
        if not (
            isinstance(application, models.ForeignKey)
            and isinstance(user, models.ForeignKey)
            and isinstance(binding, models.OneToOneRel)
        ):
            raise ValueError("unexpected shape of the token relations")
        binding_model = binding.related_model
        related = (application.related_model, user.related_model, binding_model)
        for candidate in (model, *related):
            if not _plain_manager(candidate):
                raise ValueError(
                    f"unexpected shape: the default manager of {candidate.__name__} filters rows"
                )
            if router.db_for_read(candidate) != router.db_for_read(model):
                raise ValueError("unexpected shape: the token and its relations live on different aliases")
        quote = connection.ops.quote_name
        self.model = model
        self.alias = alias
        self.token = _Columns(model, "t", connection)
        self.application = _Columns(application.related_model, "a", connection)
        self.user = _Columns(user.related_model, "u", connection)
        self.binding = _Columns(binding_model, "b", connection)
        self.parts = (self.token, self.application, self.user, self.binding)
        binding_field = binding.field
        checksum = meta.get_field("token_checksum")
        select = ", ".join(column for part in self.parts for column in part.sql)
        self.sql = (
            f"SELECT {select} FROM {quote(meta.db_table)} {quote('t')}"
            f" LEFT OUTER JOIN {quote(application.related_model._meta.db_table)} {quote('a')}"
            f" ON {quote('t')}.{quote(application.column)} = {quote('a')}.{quote(application.target_field.column)}"
            f" LEFT OUTER JOIN {quote(user.related_model._meta.db_table)} {quote('u')}"
            f" ON {quote('t')}.{quote(user.column)} = {quote('u')}.{quote(user.target_field.column)}"
            f" LEFT OUTER JOIN {quote(binding_model._meta.db_table)} {quote('b')}"
            f" ON {quote('b')}.{quote(binding_field.column)} = {quote('t')}.{quote(binding_field.target_field.column)}"
            f" WHERE {quote('t')}.{quote(checksum.column)} = %s"
        )
        self.sql += " " + connection.ops.limit_offset_sql(0, _LIMIT)
        self.slices = []
        start = 0
        for part in self.parts:
            self.slices.append((start, start + len(part.fields)))
            start += len(part.fields)

    def __call__(self, checksum: str) -> Any | None:
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            store_timeouts.execute(connection, cursor, self.sql, (checksum,))
            rows = cursor.fetchmany(_LIMIT)
        if not rows:
            return None
        if len(rows) > 1:
            raise self.model.MultipleObjectsReturned("several access tokens share one checksum")
        row = rows[0]
        token, application, user, binding = (
            part.build(self.alias, row[start:end], connection)
            for part, (start, end) in zip(self.parts, self.slices, strict=True)
        )
        # Through the forward descriptors, as code assigning them would (ids already match).
        token.application = application
        token.user = user
        if binding is not None:
            token.dpop_binding = binding  # the reverse one-to-one descriptor: both sides cached
        setattr(token, BINDING_JKT_ATTRIBUTE, binding.jkt if binding is not None else None)
        return token


_LOOKUPS: dict[tuple[type[Any], str, str], _CompiledLookup | None] = {}


def _orm_lookup(model: type[Any], checksum: str) -> Any | None:
    try:
        with store_timeouts.bounded(connections[router.db_for_read(model)]):
            return model._default_manager.select_related(*RELATED).get(token_checksum=checksum)
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
        except Exception as exc:  # a shape the query cannot express: the ORM for this model and alias
            logger.warning("django_dpop: fast token lookup unavailable for %s, using the ORM: %s", model, exc)
            lookup = None
        _LOOKUPS[key] = lookup
    if lookup is None:
        return _orm_lookup(model, checksum)
    return lookup(checksum)
