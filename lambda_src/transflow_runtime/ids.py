"""Deterministic assembly ids, exactly as the seed guide defines them.

``sha256(md5 + template_id + user_id)`` for one file and
``sha256("".join(sorted(md5s)) + template_id + user_id)`` for several. The parts are joined
without separators (the seed's choice), so the store refuses to let an id that belongs to one
owner be reused by another; see ``StatusStore.create``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable

_MD5_RE = re.compile(r"[0-9a-fA-F]{32}")
_CHUNK = 1024 * 1024


def _check_md5(value: object, position: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"md5 {position} must be a 32-character hex string, got {type(value).__name__}")
    if not _MD5_RE.fullmatch(value):  # fullmatch: "<md5>\n" from md5sum is refused, not hashed
        raise ValueError(f"md5 {position} must be 32 hex characters, got {value!r}")
    # Hashed exactly as given, like the seed does; md5_of_* produce lowercase, as Node's
    # digest("hex") does, so pass md5s from another tool through .lower() if it writes uppercase.
    return value


def assembly_id(md5s: str | Iterable[str], template_id: str, user_id: str) -> str:
    """The assembly id for one md5 (a hex string) or several (any iterable of them).

    Several md5s are sorted first, so the order the files arrived in does not matter.
    Raises ``ValueError`` naming the bad argument.
    """
    if not isinstance(template_id, str) or not template_id:
        raise ValueError("template_id must be a non-empty string")
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user_id must be a non-empty string")
    if isinstance(md5s, str):
        digest_part = _check_md5(md5s, "value")
    else:
        if isinstance(md5s, (bytes, bytearray)):
            raise ValueError("md5s must be a hex string or an iterable of hex strings, not bytes")
        items = [_check_md5(m, f"#{i}") for i, m in enumerate(md5s)]
        if not items:
            raise ValueError("md5s must not be empty")
        digest_part = "".join(sorted(items))
    return hashlib.sha256((digest_part + template_id + user_id).encode("utf-8")).hexdigest()


def md5_of_bytes(data: bytes) -> str:
    """Hex md5 of in-memory file content."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"data must be bytes, got {type(data).__name__}")
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_of_file(path: str | os.PathLike[str]) -> str:
    """Hex md5 of a file, read in chunks so large uploads do not fill memory."""
    if not isinstance(path, (str, os.PathLike)):  # an int would be read as a file descriptor
        raise ValueError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def assembly_id_for_files(
    files: str | os.PathLike[str] | bytes | Iterable[str | os.PathLike[str] | bytes], template_id: str, user_id: str
) -> str:
    """The assembly id for files given as paths or as their bytes (one file or an iterable)."""
    if isinstance(files, (str, os.PathLike, bytes, bytearray, memoryview)):
        files = [files]
    md5s = [md5_of_bytes(f) if isinstance(f, (bytes, bytearray, memoryview)) else md5_of_file(f) for f in files]
    if not md5s:
        raise ValueError("files must not be empty")
    return assembly_id(md5s, template_id, user_id)
