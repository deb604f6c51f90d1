"""Classes that a config names by ``kind``: each family keeps a registry, and its schema follows.

Ansatz factors, fit methods and theory kinds share this shape: a subclass that
sets ``kind`` registers itself in its family's ``registry`` and declares the
JSON schema of its keyword ``options``, so the config schema is built from the
code and cannot disagree with it.
"""

from __future__ import annotations

from collections.abc import Iterable


class Registered:
    """Base of a family of kinds; the family's base class sets ``registry`` (a dict)."""

    kind = ""
    options: dict[str, dict] = {}
    registry: dict[str, type]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            cls.registry[cls.kind] = cls


def kinds_schema(classes: Iterable[type[Registered]]) -> dict:
    """JSON schema of one config entry ``{kind: K, ...K's options}`` for the given classes."""
    return {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind"],
                "properties": {"kind": {"const": cls.kind}, **cls.options},
            }
            for cls in classes
        ]
    }
