"""The custom properties the connector writes, loaded from `mappings/properties.yaml`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.errors import UserError
from connector.yamlfile import read_yaml

VALID_FIELD_TYPES: dict[str, set[str]] = {
    # HubSpot's allowed type/fieldType pairs (CRM properties API guide, "Property type and
    # fieldType values"); the sandbox portal checks property creates against this same table
    "number": {"number", "calculation_equation"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "string": {"text", "textarea", "file", "html", "phonenumber"},
    "date": {"date"},
    "datetime": {"date"},
    "bool": {"booleancheckbox"},
    "phone_number": {"phonenumber"},
}


class SchemaError(UserError):
    """`mappings/properties.yaml` is malformed."""


@dataclass(frozen=True)
class PropertyDefinition:
    key: str
    name: str
    label: str
    type: str
    field_type: str
    description: str = ""
    options: tuple[str, ...] = ()
    has_unique_value: bool = False

    def to_hubspot(self, group_name: str) -> dict[str, Any]:
        """The body of `POST /crm/v3/properties/contacts` for this property."""
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": group_name,
            "description": self.description,
        }
        if self.options:
            body["options"] = [
                {"label": o.replace("_", " ").capitalize(), "value": o, "displayOrder": i}
                for i, o in enumerate(self.options)
            ]
        if self.has_unique_value:
            body["hasUniqueValue"] = True
        return body


@dataclass(frozen=True)
class PropertySchema:
    group_name: str
    group_label: str
    definitions: dict[str, PropertyDefinition] = field(default_factory=dict)

    def name(self, key: str) -> str:
        """HubSpot's internal name for one of the connector's properties (e.g. `score`)."""
        return self.definitions[key].name


def load_property_schema(path: Path) -> PropertySchema:
    """Read and validate the property file; a problem raises SchemaError with file and key."""
    raw = read_yaml(Path(path), SchemaError)
    if not isinstance(raw, dict):
        raise SchemaError(f"{path}: expected a mapping with `group` and `properties`")
    group = raw.get("group") or {}
    if not isinstance(group, dict) or not group.get("name"):
        raise SchemaError(f"{path}: group.name: missing")
    props = raw.get("properties")
    if not isinstance(props, dict) or not props:
        raise SchemaError(f"{path}: properties: missing or empty")
    definitions: dict[str, PropertyDefinition] = {}
    for key, spec in props.items():
        where = f"{path}: properties.{key}"
        if not isinstance(spec, dict):
            raise SchemaError(f"{where}: expected a mapping")
        for required in ("name", "label", "type", "fieldType"):
            if not spec.get(required):
                raise SchemaError(f"{where}.{required}: missing")
        kind, field_type = spec["type"], spec["fieldType"]
        if kind not in VALID_FIELD_TYPES:
            raise SchemaError(f"{where}.type: {kind!r} is not one of {sorted(VALID_FIELD_TYPES)}")
        if field_type not in VALID_FIELD_TYPES[kind]:
            raise SchemaError(f"{where}.fieldType: {field_type!r} does not go with type {kind!r}")
        options = tuple(str(o) for o in spec.get("options") or ())
        if kind == "enumeration" and not options:
            raise SchemaError(f"{where}.options: an enumeration needs options")
        definitions[key] = PropertyDefinition(
            key=key, name=str(spec["name"]), label=str(spec["label"]), type=kind,
            field_type=field_type, description=str(spec.get("description") or ""),
            options=options, has_unique_value=bool(spec.get("hasUniqueValue", False)),
        )
    names = [d.name for d in definitions.values()]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise SchemaError(f"{path}: properties: name {sorted(duplicates)[0]!r} used twice")
    return PropertySchema(str(group["name"]), str(group.get("label") or group["name"]),
                          definitions)
