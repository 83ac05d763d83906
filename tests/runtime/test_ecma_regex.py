"""Python ``assembly_id_pattern`` -> the ECMA-262 pattern OpenAPI 3.1 documents carry.

JSON Schema 2020-12 Validation, "pattern" (which OpenAPI 3.1 adopts): the value SHOULD be a valid
ECMA-262 regular expression. The oracle is Node's own ``RegExp`` in Unicode mode (``"u"``, as ajv
compiles patterns): every translated pattern must compile there and accept exactly the strings
Python's ``re.fullmatch`` accepts.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from transflow_runtime.ecma_regex import to_ecma

from tests import tooling

TRANSLATED = {
    r"^[0-9a-f]{64}$": r"^[0-9a-f]{64}$",
    r"(?P<h>[0-9a-f]{8})\Z": r"([0-9a-f]{8})$",
    r"\A[a-z]+\Z": r"^[a-z]+$",
    r"(?P<x>ab)(?P=x)": r"(ab)(?:\1)",
    r"(a)(?P<y>b)(?P=y)": r"(a)(b)(?:\2)",
    r"a{,3}": r"a{0,3}",
    r"x{": r"x\{",
    r"a}b": r"a\}b",
    r"[]a]+": r"[\]a]+",
    r"[^]a]": r"[^\]a]",
    r"a\-b\_c": r"a-b_c",
    r"(?:a|b)??c": r"(?:a|b)??c",
    r"tx_[A-Za-z0-9]{10}": r"tx_[A-Za-z0-9]{10}",
}
#: Python syntax with no ECMA-262 equivalent: inline flags, possessive quantifier, atomic group,
#: conditional, comment, named character, octal, \U escape.
UNTRANSLATABLE = [
    r"(?i)abc", r"a*+", r"a?+", r"(?>a)", r"(a)?(?(1)b|c)", r"a(?#note)", r"\N{DIGIT ONE}", r"\0", r"\U0001F600",
]
SAMPLES = ["", "a", "ab", "abab", "aaa", "aaaa", "x{", "]a", "b", "]]a", "a-b_c", "ab-c_", "ABC", "abc", "a}b", "c",
           "ac", "bc", "aa", "a]", "0" * 64, "deadbeef", "deadbeef\n", "tx_ABCDEFGHIJ", "tx_ABCDEFGHI"]


def test_python_only_syntax_is_translated_to_its_ecma_equivalent() -> None:
    assert {p: to_ecma(p) for p in TRANSLATED} == TRANSLATED


@pytest.mark.parametrize("pattern", UNTRANSLATABLE)
def test_python_syntax_without_an_equivalent_gives_no_pattern(pattern: str) -> None:
    assert to_ecma(pattern) is None


def test_translations_are_python_patterns_too() -> None:
    """Python tools read the document's patterns too (openapi-spec-validator's ``regex`` format,
    schemathesis): a translation stays in the syntax both dialects share."""
    for pattern, translated in TRANSLATED.items():
        assert [bool(re.fullmatch(translated, s)) for s in SAMPLES] == [bool(re.fullmatch(pattern, s)) for s in SAMPLES]


def test_node_regexp_accepts_exactly_what_python_fullmatch_accepts() -> None:
    rows = [[p, to_ecma(p), [bool(re.fullmatch(p, s)) for s in SAMPLES]] for p in TRANSLATED]
    script = (
        "const [rows, samples] = JSON.parse(require('fs').readFileSync(0, 'utf8')); const bad = [];"
        "for (const [p, t, expected] of rows) { const r = new RegExp('^(?:' + t + ')$', 'u');"
        " samples.forEach((s, i) => { if (r.test(s) !== expected[i]) bad.push([p, t, s, expected[i]]); }); }"
        "console.log(JSON.stringify(bad));"
    )
    done = subprocess.run([tooling.node(), "-e", script], input=json.dumps([rows, SAMPLES]), capture_output=True,
                          text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == []
