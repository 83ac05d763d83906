"""What a status on the wire may hold: the ``AssemblyStatus`` JSON Schema, stdlib only.

The status function serves stored items as they are, and other writers store what they like
(``steps_total: "three"``, a binary ``message``, an upload without a ``name``). ``conforming``
leaves out every top-level field whose value does not fit the documented schema, the same rule as
``AssemblyStatus.from_item``, so the OpenAPI document, generated clients and the Python model
agree on every answer. ``SCHEMAS`` is the models' schema without annotations, written out here
because the handler must not import pydantic (cold start); a test fails when it drifts from
``transflow_runtime.openapi.wire_schemas()`` (regenerate: ``python -m transflow_runtime.openapi
--wire-schemas``, and paste its output).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_REF_PREFIX = "#/components/schemas/"

SCHEMAS: dict[str, Any] = json.loads(
    """
{
 "AssemblyStatus": {
  "additionalProperties": true,
  "properties": {
   "assembly_id": {
    "type": "string"
   },
   "ok": {
    "anyOf": [
     {
      "enum": [
       "ASSEMBLY_COMPLETED",
       "ASSEMBLY_CANCELED"
      ],
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "error": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "message": {
    "type": "string"
   },
   "state": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "uploads": {
    "items": {
     "$ref": "#/components/schemas/Upload"
    },
    "type": "array"
   },
   "results": {
    "additionalProperties": {
     "items": {
      "$ref": "#/components/schemas/Result"
     },
     "type": "array"
    },
    "type": "object"
   },
   "bytes_expected": {
    "type": "integer"
   },
   "bytes_received": {
    "type": "integer"
   },
   "bytes_usage": {
    "type": "integer"
   },
   "execution_duration": {
    "type": "number"
   },
   "execution_start": {
    "type": "string"
   },
   "last_job_completed": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "template_id": {
    "type": "string"
   },
   "branch": {
    "type": "string"
   },
   "user": {
    "$ref": "#/components/schemas/User"
   },
   "created_at": {
    "type": "string"
   },
   "updated_at": {
    "type": "string"
   },
   "steps_total": {
    "anyOf": [
     {
      "type": "integer"
     },
     {
      "type": "null"
     }
    ]
   },
   "steps_completed": {
    "anyOf": [
     {
      "type": "integer"
     },
     {
      "type": "null"
     }
    ]
   },
   "current_step_name": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "progress_pct": {
    "anyOf": [
     {
      "type": "number"
     },
     {
      "type": "null"
     }
    ]
   },
   "warnings": {
    "anyOf": [
     {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     {
      "type": "null"
     }
    ]
   },
   "ttl": {
    "anyOf": [
     {
      "type": "integer"
     },
     {
      "type": "null"
     }
    ]
   },
   "version": {
    "anyOf": [
     {
      "type": "integer"
     },
     {
      "type": "null"
     }
    ]
   },
   "notify_url": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "notify_status": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "notify_response_code": {
    "anyOf": [
     {
      "type": "integer"
     },
     {
      "type": "null"
     }
    ]
   },
   "notify_error": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "notify_duration": {
    "anyOf": [
     {
      "type": "number"
     },
     {
      "type": "null"
     }
    ]
   },
   "notify_attempts": {
    "anyOf": [
     {
      "type": "integer"
     },
     {
      "type": "null"
     }
    ]
   },
   "notify_delivered_at": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   },
   "notify_event_id": {
    "anyOf": [
     {
      "type": "string"
     },
     {
      "type": "null"
     }
    ]
   }
  },
  "required": [
   "assembly_id",
   "template_id",
   "user",
   "created_at"
  ],
  "type": "object"
 },
 "Result": {
  "additionalProperties": true,
  "properties": {
   "id": {
    "type": "string"
   },
   "name": {
    "type": "string"
   },
   "basename": {
    "type": "string"
   },
   "ext": {
    "type": "string"
   },
   "size": {
    "minimum": 0,
    "type": "integer"
   },
   "mime": {
    "type": "string"
   },
   "field": {
    "type": "string"
   },
   "original_id": {
    "type": "string"
   },
   "ssl_url": {
    "type": "string"
   },
   "meta": {
    "anyOf": [
     {
      "additionalProperties": true,
      "type": "object"
     },
     {
      "type": "null"
     }
    ]
   }
  },
  "required": [
   "id",
   "name"
  ],
  "type": "object"
 },
 "Upload": {
  "additionalProperties": true,
  "properties": {
   "id": {
    "type": "string"
   },
   "name": {
    "type": "string"
   },
   "basename": {
    "type": "string"
   },
   "ext": {
    "type": "string"
   },
   "size": {
    "minimum": 0,
    "type": "integer"
   },
   "mime": {
    "type": "string"
   },
   "field": {
    "type": "string"
   },
   "md5hash": {
    "type": "string"
   },
   "meta": {
    "anyOf": [
     {
      "additionalProperties": true,
      "type": "object"
     },
     {
      "type": "null"
     }
    ]
   }
  },
  "required": [
   "id",
   "name"
  ],
  "type": "object"
 },
 "User": {
  "additionalProperties": true,
  "properties": {
   "userId": {
    "type": "string"
   }
  },
  "required": [
   "userId"
  ],
  "type": "object"
 }
}
"""
)


def _is_number(value: Any) -> bool:
    """A JSON number: finite (JSON has no NaN or infinity), never a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, (float, Decimal)) and math.isfinite(value))


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":  # JSON Schema 2020-12: a number with a zero fractional part
        return _is_number(value) and (isinstance(value, int) or value == int(value))
    if kind == "number":
        return _is_number(value)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(f"unsupported JSON Schema type {kind!r}")


def valid(value: Any, node: Any) -> bool:
    """Whether ``value`` fits ``node`` (the keywords ``SCHEMAS`` uses; anything else is refused loudly)."""
    if node is True or node == {}:
        return True
    for keyword in node:
        if keyword not in _KEYWORDS:
            raise ValueError(f"unsupported JSON Schema keyword {keyword!r}")
    if "$ref" in node:
        return valid(value, SCHEMAS[node["$ref"].removeprefix(_REF_PREFIX)])
    if "anyOf" in node and not any(valid(value, option) for option in node["anyOf"]):
        return False
    if "type" in node and not _type_ok(value, node["type"]):
        return False
    if "enum" in node and value not in node["enum"]:
        return False
    if "minimum" in node and _is_number(value) and value < node["minimum"]:
        return False
    if isinstance(value, list) and "items" in node:
        return all(valid(item, node["items"]) for item in value)
    if isinstance(value, dict):
        if any(name not in value for name in node.get("required", ())):
            return False
        properties = node.get("properties", {})
        extra = node.get("additionalProperties", True)
        return all(valid(v, properties.get(k, extra)) for k, v in value.items())
    return True


_KEYWORDS = frozenset({"$ref", "anyOf", "type", "enum", "minimum", "items", "required", "properties",
                       "additionalProperties"})


def conforming(view: dict[str, Any]) -> dict[str, Any]:
    """``view`` without the top-level fields whose values the documented schema does not allow."""
    properties = SCHEMAS["AssemblyStatus"]["properties"]
    return {k: v for k, v in view.items() if k not in properties or valid(v, properties[k])}
