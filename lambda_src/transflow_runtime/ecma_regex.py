"""A Python ``re`` pattern as the ECMA-262 pattern that matches the same strings, where one exists.

OpenAPI 3.1 takes JSON Schema 2020-12's ``pattern``: an ECMA-262 regular expression (ajv, browsers and
most generators compile it with ``new RegExp(pattern, "u")``). ``assembly_id_pattern`` is a Python
pattern (the status function runs ``re.fullmatch``), and some of Python's syntax means something else,
or nothing, there. ``to_ecma`` rewrites what has an exact equivalent (``\\A``, ``\\Z``, ``(?P<name>`` as a plain group,
``(?P=name)`` as its numbered backreference, ``{,n}``, literal braces and brackets, escaped punctuation)
into the syntax both dialects read alike (Python tools such as openapi-spec-validator and schemathesis
read the document's patterns too), and gives ``None`` for
what has none (inline flags, atomic groups, possessive quantifiers, conditionals, comments, ``\\N``,
``\\U``, octal escapes, ...): the caller then states no pattern rather than a wrong one.

Left as they are: ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are valid in both, but Python's match any
Unicode digit / word / space character and ECMA-262's ``\\d``/``\\w`` only ASCII ones, so the
document's pattern may refuse an id with, e.g., Arabic-Indic digits that the status function accepts
(never the reverse). Stdlib only.
"""

from __future__ import annotations

import re

#: Characters ECMA-262 (Unicode mode) allows after a backslash as themselves.
_SYNTAX = set("^$\\.*+?()[]{}|/")
#: Escapes with the same meaning in both dialects.
_SAME_ESCAPES = set("dDwWsSbBtnrfv")
_QUANTIFIER = re.compile(r"\{(\d*)(,?)(\d*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def to_ecma(pattern: str) -> str | None:
    """``pattern`` (valid for Python's ``re``) in ECMA-262 syntax, or ``None`` when it has no exact equivalent."""
    try:
        re.compile(pattern)
    except re.error:
        return None
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = 0  # index in ``pattern`` where the current class's members begin
    previous_quantifier = False
    groups = 0  # capturing groups opened so far, to number named backreferences
    names: dict[str, int] = {}
    while i < n:
        c = pattern[i]
        quantifier = False
        if c == "\\":
            if i + 1 >= n:
                return None
            e = pattern[i + 1]
            i += 2
            if e in _SAME_ESCAPES and not (in_class and e in "bB"):
                out.append("\\" + e)
            elif e == "A" and not in_class:
                out.append("^")
            elif e == "Z" and not in_class:
                out.append("$")
            elif e == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", pattern[i:i + 2]):
                out.append("\\x" + pattern[i:i + 2])
                i += 2
            elif e == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", pattern[i:i + 4]):
                out.append("\\u" + pattern[i:i + 4])
                i += 4
            elif e.isdigit() and e != "0" and not in_class:
                digits = re.match(r"\d{1,2}", pattern[i - 1:])
                assert digits is not None
                out.append("\\" + digits.group())  # a backreference in both
                i += len(digits.group()) - 1
            elif e.isalnum():
                return None  # \N, \U, \a, \0, octal, \b in a class, ...: no exact equivalent
            elif e in _SYNTAX or (in_class and e == "-"):
                out.append("\\" + e)
            else:
                out.append(e)  # escaped punctuation ECMA-262 (Unicode mode) refuses: the bare character
            previous_quantifier = False
            continue
        if in_class:
            if c == "]" and i > class_start:
                in_class = False
                out.append("]")
            elif c == "]" or c == "[":
                out.append("\\" + c)  # Python's leading "]" is a member; "[" is one in both, escaped for clarity
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append("[")
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            class_start = i
            previous_quantifier = False
            continue
        if c == "(" and pattern.startswith("(?", i):
            rest = pattern[i + 2:]
            if rest.startswith((":", "=", "!", "<=", "<!")):
                out.append("(?")
                i += 2
            elif rest.startswith("P<"):
                name = _NAME.match(rest, 2)
                if not name or not rest[name.end():].startswith(">"):
                    return None
                groups += 1
                names[name.group()] = groups
                out.append("(")  # the name does not change what matches; a plain group is valid in both
                i += 2 + name.end() + 1
            elif rest.startswith("P="):
                name = _NAME.match(rest, 2)
                if not name or not rest[name.end():].startswith(")") or name.group() not in names:
                    return None
                out.append(f"(?:\\{names[name.group()]})")  # the numbered backreference, in both
                i += 2 + name.end() + 1
            else:
                return None  # inline flags, (?#...), (?>...), (?(1)...): nothing equivalent
            previous_quantifier = False
            continue
        if c == "(":
            groups += 1
            out.append("(")
            i += 1
            previous_quantifier = False
            continue
        if c == "{":
            match = _QUANTIFIER.match(pattern, i)
            if match and (match.group(1) or (match.group(2) and match.group(3))):
                low, comma, high = match.groups()
                out.append("{" + (low or "0") + comma + high + "}")
                i = match.end()
                quantifier = True
            else:
                out.append("\\{")  # a literal brace for Python; a syntax error for ECMA-262 (Unicode mode)
                i += 1
        elif c in "}]":
            out.append("\\" + c)
            i += 1
        elif c in "*+?":
            if c == "+" and previous_quantifier:
                return None  # a possessive quantifier (Python 3.11+)
            if c == "?" and previous_quantifier:
                out.append("?")  # lazy, in both
                i += 1
                previous_quantifier = False
                continue
            out.append(c)
            i += 1
            quantifier = True
        else:
            out.append(c)
            i += 1
        previous_quantifier = quantifier
    return "".join(out)
