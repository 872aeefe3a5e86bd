"""Make the published OpenAPI document as strict as the validation behind it.

Pydantic describes `dict[Code, float]` as `patternProperties` without `additionalProperties: false`, which in JSON
Schema lets any other key through with any value; the models refuse such keys. Clients and schemathesis read the
document, so it must say what the service enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def tighten(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        _close_pattern_properties(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _close_pattern_properties(node: Any) -> None:
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_pattern_properties(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_properties(value)
