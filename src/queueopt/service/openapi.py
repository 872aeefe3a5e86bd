"""Make the published OpenAPI document say exactly what the service accepts.

Pydantic describes `dict[Code, float]` as `patternProperties` without `additionalProperties: false`, which in JSON
Schema lets any other key through with any value; the models refuse such keys. Clients and schemathesis read the
document, so it must say what the service enforces.

A route that parses its JSON body itself (for speed) has no body parameter for FastAPI to document; `json_body`
documents it as FastAPI would have, and `tighten` adds the body's model to the components.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"
_BODIES: list[type[BaseModel]] = []


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its own body: a required JSON body of `model`."""
    _BODIES.append(model)
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}


def tighten(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        _add_bodies(schema.setdefault("components", {}).setdefault("schemas", {}))
        _close_pattern_properties(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_bodies(components: dict[str, Any]) -> None:
    """Each body model and the models it refers to; one FastAPI already documents (from a response) is kept."""
    for model in _BODIES:
        schema = model.model_json_schema(ref_template=_REF)
        for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            components.setdefault(name, definition)


def _close_pattern_properties(node: Any) -> None:
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_pattern_properties(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_properties(value)
