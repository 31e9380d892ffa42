"""Structured output: what ``response_format`` may be, how a reply is parsed and validated,
and what the model is told when its reply did not validate.

``response_format`` may be a pydantic model class (the reply is validated into an instance of
it), an OpenAI ``response_format`` dict (``{"type": "json_schema", "json_schema": {...}}`` or
``{"type": "json_object"}``), or a bare JSON Schema dict. Providers receive the OpenAI form and
constrain generation where the backend can (LiteLLM passes it on, llama.cpp turns it into a
grammar, TGI into its ``grammar`` parameter); the adapter validates the reply either way and
asks again when it does not validate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from fusionsdk.errors import BadRequest

__all__ = ["ResponseFormat"]

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(frozen=True)
class ResponseFormat:
    """A validated ``response_format``.

    Attributes:
        openai: The OpenAI ``response_format`` dict sent to providers.
        model: The pydantic model replies are validated into, if one was given.
        schema: The JSON Schema replies must satisfy (None for plain ``json_object``).
    """

    openai: dict[str, Any]
    model: type[BaseModel] | None = None
    schema: dict[str, Any] | None = None

    @classmethod
    def of(cls, value: Any) -> ResponseFormat:
        """Read what a caller passed as ``response_format``.

        Raises:
            BadRequest: It is none of the accepted forms.
        """
        if isinstance(value, ResponseFormat):
            return value
        if isinstance(value, type) and issubclass(value, BaseModel):
            schema = value.model_json_schema()
            return cls(_json_schema(value.__name__, schema), value, schema)
        if isinstance(value, dict):
            kind = value.get("type")
            if kind == "json_object":
                return cls(dict(value), None, value.get("schema"))
            if kind == "json_schema" and isinstance(value.get("json_schema"), dict):
                return cls(dict(value), None, value["json_schema"].get("schema"))
            if "properties" in value or kind in ("object", "array"):
                return cls(_json_schema(str(value.get("title") or "response"), value), None, value)
        raise BadRequest(
            "response_format must be a pydantic model class, an OpenAI response_format dict or a JSON Schema"
        )

    @property
    def name(self) -> str:
        """The schema's name (for messages and traces)."""
        return str(self.openai.get("json_schema", {}).get("name", "json"))

    def parse(self, text: str) -> Any:
        """The reply decoded and validated: a model instance, or plain JSON data.

        Raises:
            ValueError: Not JSON, or not valid against the schema (the message says why).
        """
        data = _decode(text)
        if self.model is not None:
            try:
                return self.model.model_validate(data)
            except ValidationError as err:
                raise ValueError(_short(err)) from None
        if self.schema is not None:
            check_schema(data, self.schema)
        return data

    def retry_message(self, error: str) -> dict[str, Any]:
        """What the model is told after a reply that did not validate."""
        schema = json.dumps(self.schema, ensure_ascii=False) if self.schema else "a JSON object"
        return {
            "role": "user",
            "content": f"Your reply was not valid: {error}. Reply again with only a JSON value "
            f"matching this JSON Schema, and nothing else: {schema}",
        }


def _json_schema(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "response"
    return {"type": "json_schema", "json_schema": {"name": safe, "schema": schema}}


def _decode(text: str) -> Any:
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    start = min((i for i in (stripped.find("{"), stripped.find("[")) if i >= 0), default=-1)
    if start >= 0:  # prose around one JSON value: take the value
        try:
            value, _ = json.JSONDecoder().raw_decode(stripped[start:])
            return value
        except ValueError:
            pass
    raise ValueError(f"not JSON: {stripped[:80]!r}")


def check_schema(data: Any, schema: dict[str, Any]) -> None:
    """Validate ``data`` against a JSON Schema with ``jsonschema``.

    Raises:
        ValueError: It does not validate (the first error, with its path).
    """
    import jsonschema

    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        raise ValueError(f"{where}: {err.message}") from None


def _short(err: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()[:5]]
    return "; ".join(parts)
