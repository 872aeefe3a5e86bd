"""Store URLs, read once: opening a store and locking it for an engine must agree on what a URL names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from queueopt.errors import InvalidInput

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """Where a store lives. `path` and `durability` are SQLite's; `conninfo` (the URL without `schema`) and
    `schema` are PostgreSQL's, where a store may live in its own schema (the tests isolate runs that way)."""

    backend: Literal["memory", "sqlite", "postgres"]
    path: str = ""
    durability: str = "normal"
    conninfo: str = ""
    schema: str | None = None


def parse_store_url(url: str) -> StoreUrl:
    """`memory://`, `sqlite:///relative/or/./path.db` or `sqlite:////absolute.db` (add `?durability=strict` to
    sync every commit), or `postgresql://user@host:port/db[?schema=name]`."""
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unclosed IPv6 bracket, say
        raise InvalidInput(f"not a URL: {error}", field="database_url") from None
    if parts.scheme == "memory":
        if url != "memory://":
            raise InvalidInput("expected memory:// with nothing after it", field="database_url")
        return StoreUrl("memory")
    if parts.scheme == "sqlite":
        rest = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        path, _, options_text = rest.partition("?")
        if not path:
            raise InvalidInput("expected sqlite:///path/to/file.db", field="database_url")
        sqlite_options = _options(options_text)
        unknown = sorted(set(sqlite_options) - {"durability"})
        if unknown:
            raise InvalidInput(
                f"unknown SQLite option {unknown[0]!r}: the only one is 'durability' (normal or strict)",
                field="database_url",
            )
        durability = sqlite_options.get("durability", "normal")
        if durability not in ("normal", "strict"):
            raise InvalidInput(f"durability: expected 'normal' or 'strict', got {durability!r}", field="database_url")
        return StoreUrl("sqlite", path=path, durability=durability)
    if parts.scheme in ("postgresql", "postgres"):
        options = _options(parts.query)
        schema = options.pop("schema", None)
        if schema is not None and not _SCHEMA.match(schema):
            raise InvalidInput(f"schema: expected a lower-case identifier, got {schema!r}", field="database_url")
        conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(options), parts.fragment))
        _check_conninfo(conninfo)
        return StoreUrl("postgres", conninfo=conninfo, schema=schema)
    raise InvalidInput(f"unsupported store URL scheme {parts.scheme!r}", field="database_url")


def _options(query: str) -> dict[str, str]:
    """A URL's query as options, each named once: a misspelt option or one given twice would otherwise leave a
    default or the last value in force without a word (`?durablity=strict` ran with `normal`; found by a probe)."""
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in options:
            raise InvalidInput(f"option {name!r} is given more than once", field="database_url")
        options[name] = value
    return options


def _check_conninfo(conninfo: str) -> None:
    """libpq's reading of the URL's parameters, so a misspelt one (`applicationname`) is the URL's fault, said in
    one line, not a driver error at the first connection. A parameter's value (`connect_timeout=ten`) is read only
    by `connect`, which says so the same way."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from queueopt.store.postgres import one_line

    try:
        conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as error:
        raise InvalidInput(one_line(error), field="database_url") from None
