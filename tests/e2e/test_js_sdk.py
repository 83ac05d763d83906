"""The AWS SDK for JavaScript (v3, from package.json) signs its own SigV4 requests: with the
credentials local mode prints they get through to the table; with any others they are refused."""

from __future__ import annotations

import json
import os
import subprocess

from tests import tooling

from .conftest import REPO

SCRIPT = r"""
const { DynamoDBClient, PutItemCommand, GetItemCommand } = require("@aws-sdk/client-dynamodb");
const [endpoint, region, key, secret, table] = process.argv.slice(1);  // node -e: no script path
const client = new DynamoDBClient({ endpoint, region, credentials: { accessKeyId: key, secretAccessKey: secret } });
(async () => {
  try {
    const id = "js-sdk-" + Date.now();
    const item = { assembly_id: { S: id }, note: { S: "from node" } };
    await client.send(new PutItemCommand({ TableName: table, Item: item }));
    const got = await client.send(new GetItemCommand({ TableName: table, Key: { assembly_id: { S: id } } }));
    console.log(JSON.stringify({ ok: true, note: got.Item.note.S }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, name: err.name }));
  }
})();
"""


def _run(local: dict, key: str, secret: str) -> dict:
    done = subprocess.run(
        [tooling.node(), "-e", SCRIPT, local["aws_endpoint_url"], local["region"], key, secret, local["table_name"]],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_javascript_sdk_works_with_the_printed_credentials(local):
    assert _run(local, local["aws_access_key_id"], local["aws_secret_access_key"]) == {"ok": True, "note": "from node"}


def test_the_javascript_sdk_is_refused_with_other_credentials(local):
    refused = _run(local, local["aws_access_key_id"], "not-the-secret")
    assert refused == {"ok": False, "name": "InvalidSignatureException"}
    assert _run(local, "local", "local") == {"ok": False, "name": "UnrecognizedClientException"}


ENV_ONLY = r"""
const { DynamoDBClient, GetItemCommand } = require("@aws-sdk/client-dynamodb");
const table = process.argv[1];
(async () => {
  try {
    const client = new DynamoDBClient({});  // endpoint, region and credentials from the environment only
    const got = await client.send(new GetItemCommand({ TableName: table, Key: { assembly_id: { S: "none" } } }));
    console.log(JSON.stringify({ ok: true, found: !!got.Item }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, name: err.name, message: String(err.message).slice(0, 200) }));
  }
})();
"""


def test_the_javascript_sdk_works_with_nothing_but_the_printed_export_line(local, capsys, tmp_path):
    """The SDK for JavaScript v3 reads ``AWS_REGION`` (not ``AWS_DEFAULT_REGION``) and
    ``AWS_ENDPOINT_URL``: the export line local mode prints must set what it reads."""
    import shlex

    from transflow_runtime.cli import _print_banner

    _print_banner(local, None, [], quiet=False)
    line = next(text for text in capsys.readouterr().out.splitlines() if text.strip().startswith("export "))
    exported = dict(part.split("=", 1) for part in shlex.split(line.strip())[1:])
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **exported}
    done = subprocess.run([tooling.node(), "-e", ENV_ONLY, local["table_name"]], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"ok": True, "found": False}
