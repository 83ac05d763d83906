"""The built wheel works without the source tree: installed into a fresh virtualenv outside the
repository, it composes ``TransflowStatus`` into a new app and synthesizes with real bundling,
so the packaged ``transflow_runtime`` (the Lambda source) and the pins are found from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from .cdk_helpers import REPO

pytestmark = pytest.mark.slow

SOURCES = ("pyproject.toml", "README.md", "transflow_constructs", "lambda_src")

APP = textwrap.dedent(
    """
    import json, sys
    import aws_cdk as cdk
    from aws_cdk import aws_secretsmanager as secretsmanager
    import transflow_constructs, transflow_runtime
    from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

    app = cdk.App(outdir=sys.argv[1])
    stack = cdk.Stack(app, "FromWheel")
    jwt = secretsmanager.Secret(stack, "Jwt")
    hook = secretsmanager.Secret(stack, "Hook")
    status = TransflowStatus(
        stack, "Status",
        auth=StatusAuth.shared_secret(jwt),
        webhooks={"tpl": WebhookTarget(url="https://hooks.example.com/x", secret=hook)},
    )
    assembly = app.synth()
    template = assembly.get_stack_by_name("FromWheel").template
    code = template["Resources"][stack.get_logical_id(status.status_function.node.default_child)]["Properties"]["Code"]
    print(json.dumps({
        "transflow_runtime": transflow_runtime.__file__,
        "transflow_constructs": transflow_constructs.__file__,
        "asset": code["S3Key"].removesuffix(".zip"),
        "functions": sorted(r["Properties"]["Handler"] for r in template["Resources"].values()
                            if r["Type"] == "AWS::Lambda::Function"),
    }))
    """
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the sources (the shared working tree stays untouched)."""
    work = tmp_path_factory.mktemp("wheel-build")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(path, source / name)
    dist = work / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = dist.glob("transflow_constructs-*.whl")
    return built


def test_wheel_contains_both_packages_the_pins_and_every_handler(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "transflow_constructs/__init__.py",
        "transflow_constructs/bundle-requirements.txt",
        "transflow_constructs/targets/webhooks.py",
        "transflow_runtime/__init__.py",
        "transflow_runtime/schema.py",
        "transflow_runtime/handlers/status.py",
        "transflow_runtime/handlers/authorizer.py",
        "transflow_runtime/handlers/webhook.py",
        "transflow_runtime/handlers/dispatcher.py",
        "transflow_runtime/openapi.py",  # the HTTP API's OpenAPI document ships with the package
    ):
        assert required in names, required
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_installed_wheel_synthesizes_with_its_own_runtime_source(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("fresh-env")
    assert REPO not in outside.parents
    venv = outside / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    fresh_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Third-party packages (aws-cdk-lib, constructs, pip, ...) come from the project's venv by a
    # plain path entry; its editable-install hooks (.pth files there) are NOT processed, so the
    # source tree's transflow packages cannot leak in. The assertions below prove it.
    (fresh_site / "zz_project_venv.pth").write_text(site.getsitepackages()[0] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    script = outside / "compose.py"
    script.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    cdk_out = outside / "cdk.out"
    result = subprocess.run(
        [str(python), str(script), str(cdk_out)],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    for package in ("transflow_runtime", "transflow_constructs"):
        assert Path(seen[package]).resolve().is_relative_to(fresh_site.resolve()), seen
    assert seen["functions"] == sorted(
        [
            "transflow_runtime.handlers.authorizer.handler",
            "transflow_runtime.handlers.dispatcher.handler",
            "transflow_runtime.handlers.status.handler",
            "transflow_runtime.handlers.webhook.handler",
        ]
    )
    asset = cdk_out / f"asset.{seen['asset']}"
    assert (asset / "transflow_runtime" / "handlers" / "status.py").is_file()
    assert list(asset.glob("pydantic_core-*.dist-info"))
    assert not list(asset.rglob("__pycache__"))
