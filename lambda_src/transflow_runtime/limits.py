"""Lambda's synchronous response limit, measured the way Lambda's Python runtime measures it.

Lambda refuses a synchronous invocation response larger than 6 MB ("Invocation payload (request
and response): 6 MB each for synchronous", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html);
the service's own error names the exact figure, ``Response payload size exceeded maximum allowed
payload size (6291556 bytes)`` (``Function.ResponseSizeTooLarge``). What it measures is not the
HTTP body a handler builds but the handler's whole return value after the Python runtime interface
client (``awslambdaric``) serialized it to JSON and encoded it as UTF-8. That serialization quotes
the body string a second time, so every ``"`` and ``\\`` in the body costs two bytes, and on
runtimes older than python3.12 (or where ``AWS_EXECUTION_ENV`` is not set, as in container images)
every non-ASCII character becomes a ``\\uXXXX`` escape.

The status handler (batch and list routes) and local mode's gateway and ``Invoke`` use this one
function, so local mode refuses exactly what Lambda would. Stdlib only (cold-start path).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

#: The largest serialized synchronous response Lambda returns (the figure in its error message).
LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_556

#: ``AWS_EXECUTION_ENV`` values for which ``awslambdaric`` serializes with ``ensure_ascii=False``
#: (raw UTF-8); on every other value, and without the variable, it escapes non-ASCII as ``\\uXXXX``.
#: A runtime missing here is measured with the escapes: never smaller than the truth.
RAW_UTF8_EXECUTION_ENVS = frozenset(f"AWS_Lambda_python3.{minor}" for minor in (12, 13, 14, 15))

def escapes_non_ascii(execution_env: str | None = None) -> bool:
    """Whether the Python runtime writes non-ASCII characters as ``\\uXXXX`` escapes.

    ``execution_env`` defaults to this process's ``AWS_EXECUTION_ENV``.
    """
    env = os.environ.get("AWS_EXECUTION_ENV") if execution_env is None else execution_env
    return env not in RAW_UTF8_EXECUTION_ENVS


def invocation_response_bytes(response: Any, *, execution_env: str | None = None) -> int:
    """The size in bytes of ``response`` as Lambda's Python runtime sends it back.

    ``json.dumps`` with the runtime's settings (default separators, ``allow_nan``, ``ensure_ascii``
    per runtime) and UTF-8; the stdlib encoder writes the same text as the runtime's simplejson for
    the types a handler returns (dicts, lists, strings, numbers, booleans, None). Raises
    ``TypeError``/``ValueError`` for a value the runtime could not serialize either.
    """
    text = json.dumps(response, ensure_ascii=escapes_non_ascii(execution_env), allow_nan=True)
    return len(text.encode("utf-8", "surrogatepass"))


def json_string_bytes(text: str, *, execution_env: str | None = None) -> int:
    """The bytes ``text`` takes inside a JSON string of the runtime's serialization, quotes
    excluded. Escaping is per character, so the figure for a concatenation is the sum of its
    parts' figures: a response assembled from pieces can be sized without serializing it whole."""
    return len(json.dumps(text, ensure_ascii=escapes_non_ascii(execution_env)).encode("utf-8", "surrogatepass")) - 2


def fits_lambda_response(response: Mapping[str, Any] | Any, *, execution_env: str | None = None) -> bool:
    """Whether Lambda would return ``response`` (at most ``LAMBDA_RESPONSE_LIMIT_BYTES``)."""
    return invocation_response_bytes(response, execution_env=execution_env) <= LAMBDA_RESPONSE_LIMIT_BYTES
