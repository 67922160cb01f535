"""The JSON contracts shipped in reasoner/contracts, and validation of `-o json` outputs against them."""
from __future__ import annotations

import importlib.resources
import json

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SHIPPED = importlib.resources.files("reasoner.contracts")
SCHEMAS = {p.name: json.loads(p.read_text()) for p in SHIPPED.iterdir() if p.name.endswith(".schema.json")}
REGISTRY = Registry().with_resources((name, Resource.from_contents(s)) for name, s in SCHEMAS.items())


def validator(contract: str) -> Draft202012Validator:
    """The validator of one contract: "connectivity", "diff", "exposure", "lint", "prove"."""
    return Draft202012Validator(SCHEMAS[f"{contract}.schema.json"], registry=REGISTRY)


def validate(output: str, contract: str) -> dict:
    """The JSON text `output`, parsed, once it has validated against `contract`."""
    data = json.loads(output)
    validator(contract).validate(data)
    return data
