"""Local mode serves the OpenAPI document, serves exactly its routes, and the README's typed-client
recipe works on it: openapi-typescript generates types from local mode's /openapi.json and the
README's TypeScript snippet type-checks against them under ``tsc --strict``."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import urllib.request
from pathlib import Path

import pytest
from transflow_runtime import openapi

from tests import tooling

from .test_local_mode import http

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")

#: Type-level checks beside the README's snippet: each ``@ts-expect-error`` must really be an error,
#: so generated types that had decayed to ``any`` fail the check too.
STRICTNESS_CHECKS = """
import type { components, paths } from "./transflow-api";

type AssemblyStatus = components["schemas"]["AssemblyStatus"];
type Query = NonNullable<paths["/status"]["get"]["parameters"]["query"]>;
type Refused = paths["/status"]["get"]["responses"][401]["content"]["application/json"];
type Page = paths["/assemblies"]["get"]["responses"][200]["content"]["application/json"];

export const query: Query = { assemblyId: "a", assembly_id: "a" };
export const reason = (refused: Refused): string => ("error" in refused ? refused.error : refused.message);
export const cursor = (page: Page): string | null => page.next_cursor;
export const owner = (status: AssemblyStatus): string => status.user.userId;
// @ts-expect-error ok only ever holds a terminal value
export const running: AssemblyStatus["ok"] = "ASSEMBLY_EXECUTING";
// @ts-expect-error progress_pct may be absent: it is optional
export const pct = (status: AssemblyStatus): number => status.progress_pct;
// @ts-expect-error the list route has no such parameter
export const unknown: NonNullable<paths["/assemblies"]["get"]["parameters"]["query"]> = { page: 2 };
"""


def _readme_block(after: str, language: str) -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(re.escape(after) + r".*?```" + language + r"\n(.*?)```", text, re.S)
    assert block, f"README lost its {language} block after {after!r}"
    return block.group(1)


def test_local_mode_serves_the_document_without_a_token(local):
    with urllib.request.urlopen(f"{local['api_url']}/openapi.json", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        document = json.loads(response.read())
    assert document == openapi.openapi_document(server_url=local["api_url"])


def test_local_mode_serves_exactly_the_documents_routes(local):
    """Every method on every documented path: a route local mode serves reaches the authorizer
    (401 without a token); anything else is API Gateway's route miss, ``404 {"message": "Not Found"}``."""
    document = openapi.openapi_document()
    served = set()
    for path in document["paths"]:
        concrete = path.replace("{assemblyId}", openapi.EXAMPLE_ACTIVE_ID)
        for method in METHODS:
            status, _, body = http(method, f"{local['api_url']}{concrete}")
            if status == 401:
                served.add((method, path))
            else:
                assert (status, json.loads(body)) == (404, {"message": "Not Found"}), (method, path)
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert served == documented


@pytest.fixture(scope="module")
def generated_types(local, tmp_path_factory) -> Path:
    """The README's openapi-typescript command, run as written against local mode."""
    tooling.npm_bin("openapi-typescript")
    command = _readme_block("Generate TypeScript types for a front end", "bash").strip()
    assert command.startswith("npx openapi-typescript "), command
    out = tmp_path_factory.mktemp("typescript")
    command = command.replace("http://127.0.0.1:8787", local["api_url"]).replace(
        "src/transflow-api.d.ts", str(out / "transflow-api.d.ts")
    )
    run = subprocess.run(shlex.split(command), cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (out / "transflow-api.d.ts").stat().st_size > 1000
    return out


def test_the_readme_snippet_type_checks_against_the_generated_types(generated_types):
    (generated_types / "client.ts").write_text(_readme_block("```bash\nnpx openapi-typescript", "ts"))
    (generated_types / "strictness.ts").write_text(STRICTNESS_CHECKS)
    run = subprocess.run(
        [tooling.npm_bin("tsc"), "--noEmit", "--strict", "--target", "es2022", "--lib", "es2022,dom",
         "--module", "es2022", "--moduleResolution", "bundler", "client.ts", "strictness.ts"],
        cwd=generated_types, capture_output=True, text=True, timeout=180, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
