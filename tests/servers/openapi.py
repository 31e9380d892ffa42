"""Validate JSON against the schemas of an OpenAPI 3.0 document, with ``jsonschema``.

OpenAPI 3.0 schemas are almost JSON Schema. The differences that matter are translated once:
``nullable: true`` becomes a ``"null"`` type (or an ``anyOf`` with null around ``$ref``/``allOf``),
a boolean ``exclusiveMinimum``/``exclusiveMaximum`` becomes the numeric form, and annotation-only
keys (``example``, ``discriminator``, ``xml``, ``externalDocs``) are dropped, as their values are
not schemas (TGI's spec has ``example: "null"`` on integers). ``$ref`` stays as it is and resolves
against the translated document, so recursive schemas work too.

Example:
    >>> schemas = OpenAPISchemas.load(TGI_SPEC)  # doctest: +SKIP
    >>> schemas.errors("GenerateRequest", {"inputs": "hi", "parameters": {"temperature": 0}})
    ['parameters.temperature: 0 is less than or equal to the minimum of 0']
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

__all__ = ["TGI_SPEC", "OpenAPISchemas", "to_json_schema"]

#: TGI's OpenAPI document, kept beside this module (see ``specs/README.md`` for its source).
TGI_SPEC = Path(__file__).resolve().parent / "specs" / "tgi-openapi.json"

_ANNOTATIONS = frozenset({"example", "discriminator", "xml", "externalDocs", "nullable"})
#: Keywords whose value maps names to schemas (the names are not keywords).
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "schemas"})


def to_json_schema(node: Any) -> Any:
    """Translate an OpenAPI 3.0 schema (or a whole document) into JSON Schema 2020-12."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: to_json_schema(schema) for name, schema in value.items()}
        else:
            out[key] = to_json_schema(value)
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if out.get(bound) is True:
            out[bound] = out.pop(limit)
        elif out.get(bound) is False:
            del out[bound]
    if node.get("nullable") is True:
        out = _nullable(out)
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema = {**schema, "type": [*types, "null"]}
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


class OpenAPISchemas:
    """The component schemas of one OpenAPI document, ready to validate instances.

    Args:
        document: The parsed OpenAPI document.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = to_json_schema(document)

    @classmethod
    @functools.cache
    def load(cls, path: Path) -> OpenAPISchemas:
        """Read and translate an OpenAPI JSON file (once per process)."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    @functools.cache  # noqa: B019 - one validator per schema name for the life of the document
    def validator(self, name: str) -> Draft202012Validator:
        """A validator for ``#/components/schemas/<name>``."""
        if name not in self.document["components"]["schemas"]:
            raise KeyError(f"no schema named {name!r}")
        root = {**self.document, "$ref": f"#/components/schemas/{name}"}
        Draft202012Validator.check_schema(root)
        return Draft202012Validator(root)

    def errors(self, name: str, instance: Any) -> list[str]:
        """Every violation of schema ``name`` by ``instance``, as ``path: message`` lines."""
        found = sorted(self.validator(name).iter_errors(instance), key=lambda e: list(e.path))
        return [f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in found]

    def check(self, name: str, instance: Any) -> None:
        """Raise AssertionError listing the violations when ``instance`` does not fit ``name``."""
        problems = self.errors(name, instance)
        assert not problems, f"{name} violated: {problems}"
