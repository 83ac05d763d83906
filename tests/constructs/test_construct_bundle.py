"""The Lambda asset, built for real by the Docker-free bundler.

* x86_64 for a Python this machine has (3.13, else 3.12): every handler module imports in an
  isolated interpreter that sees only the bundle and boto3 (as Lambda's runtime provides it).
* arm64: the compiled wheels inside are the aarch64 ones.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_
from transflow_runtime import schema

from transflow_constructs import TransflowStatus, bundling

from .cdk_helpers import new_stack, oidc_auth

pytestmark = pytest.mark.slow

PINS_FILE = Path(bundling.__file__).with_name("bundle-requirements.txt")
#: What Lambda's Python runtime provides (boto3 and its dependencies), copied from this venv.
BOTO_PACKAGES = ("boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil", "six")
HOST_ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "amd64": lambda_.Architecture.X86_64}
RUNTIMES = {"3.13": lambda_.Runtime.PYTHON_3_13, "3.12": lambda_.Runtime.PYTHON_3_12}


def find_python(version: str) -> str | None:
    """A working interpreter of exactly this version (PATH, then pyenv), resolved to its real path."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(str(pyenv_root / "versions" / f"{version}.*" / "bin" / f"python{version}")))
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            continue
        if out and out[0] == version:
            return out[1]
    return None


def pins() -> dict[str, str]:
    result = {}
    for line in PINS_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            result[canonical(name)] = version
    return result


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build_asset(outdir: Path, architecture: lambda_.Architecture, runtime: lambda_.Runtime) -> Path:
    """Synthesize a stack with bundling on; return the function asset's directory."""
    stack = new_stack(bundling=True, outdir=str(outdir))
    status = TransflowStatus(stack, "Status", auth=oidc_auth(), architecture=architecture, runtime=runtime)
    assembly = stack.node.root.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    code = template["Resources"][stack.get_logical_id(status.status_function.node.default_child)]["Properties"]["Code"]
    asset_hash = code["S3Key"].removesuffix(".zip")
    asset = outdir / f"asset.{asset_hash}"
    assert asset.is_dir(), f"bundled asset not found at {asset}"
    return asset


@pytest.fixture(scope="module")
def host_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    architecture = HOST_ARCHITECTURES.get(platform.machine().lower())
    if architecture is None:
        pytest.skip(f"the import test needs an x86_64 host, this is {platform.machine()}")
    found = [(version, python) for version in RUNTIMES if (python := find_python(version)) is not None]
    if not found:
        pytest.skip("no python3.13 or python3.12 interpreter on this machine (PATH or pyenv)")
    version, python = found[0]
    runtime = RUNTIMES[version]
    outdir = tmp_path_factory.mktemp("cdk-out-x86")
    return {
        "python": python,
        "version": version,
        "runtime": runtime,
        "outdir": outdir,
        "asset": build_asset(outdir, architecture, runtime),
    }


@pytest.fixture(scope="module")
def arm_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_asset(tmp_path_factory.mktemp("cdk-out-arm"), lambda_.Architecture.ARM_64, lambda_.Runtime.PYTHON_3_13)


@pytest.fixture(scope="module")
def boto3_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding boto3 and its pure-Python dependencies, nothing else."""
    import importlib

    target = tmp_path_factory.mktemp("boto3-only")
    for name in BOTO_PACKAGES:
        module = importlib.import_module(name)
        source = Path(module.__file__)
        if source.name == "__init__.py":
            shutil.copytree(source.parent, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / source.name)
    return target


def _lambda_like_env() -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "LANG": "C.UTF-8",
    }
    env.update(
        {
            schema.ENV_TABLE_NAME: "table",
            schema.ENV_WEBHOOK_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/q",
            schema.ENV_WEBHOOK_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
            schema.ENV_JWT_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf",
            schema.ENV_WEBHOOK_CONFIG: json.dumps(
                {"targets": {}, "default": None, "allow_notify_url": False, "notify_url_secret_arn": None}
            ),
        }
    )
    return env


def run_isolated(
    python: str, paths: list[Path], code: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -I -S``: no site-packages, no user site, no PYTHON* variables; only ``paths`` added."""
    prelude = f"import sys; sys.path[0:0] = {[str(p) for p in paths]!r}\n"
    return subprocess.run(
        [python, "-I", "-S", "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**_lambda_like_env(), **(extra_env or {})},
        cwd="/",
        check=False,
    )


# ---- contents ---------------------------------------------------------------------------------------


def test_bundle_holds_the_runtime_and_exactly_the_pinned_distributions(host_build: dict[str, Any]) -> None:
    asset: Path = host_build["asset"]
    assert (asset / "transflow_runtime" / "schema.py").is_file()
    assert (asset / "transflow_runtime" / "handlers" / "__init__.py").is_file()
    # Local mode never runs in Lambda.
    assert not (asset / "transflow_runtime" / "local").exists()
    installed = {}
    for dist_info in asset.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[canonical(name)] = version
    assert installed == pins(), "every bundled distribution must be pinned, and every pin bundled"
    # boto3 comes from the Lambda runtime, never from the bundle.
    assert not (asset / "boto3").exists() and not (asset / "botocore").exists()


def test_bundle_holds_no_bytecode(host_build: dict[str, Any], arm_asset: Path) -> None:
    for asset in (host_build["asset"], arm_asset):
        assert not list(asset.rglob("__pycache__"))
        assert not list(asset.rglob("*.pyc"))


def test_bundle_fits_lambda_size_limits(arm_asset: Path) -> None:
    unzipped = sum(p.stat().st_size for p in arm_asset.rglob("*") if p.is_file())
    assert unzipped < 250 * 1024 * 1024


def test_arm64_bundle_carries_aarch64_wheels(arm_asset: Path) -> None:
    (wheel_file,) = arm_asset.glob("pydantic_core-*.dist-info/WHEEL")
    tags = [line.split(":", 1)[1].strip() for line in wheel_file.read_text().splitlines() if line.startswith("Tag:")]
    assert tags and all(tag.endswith("aarch64") for tag in tags), tags
    assert all(tag.startswith("cp313-cp313-") for tag in tags), tags
    (extension,) = arm_asset.glob("pydantic_core/_pydantic_core*.so")
    assert "aarch64" in extension.name


def test_host_bundle_carries_wheels_for_its_architecture_and_python(host_build: dict[str, Any]) -> None:
    (wheel_file,) = host_build["asset"].glob("pydantic_core-*.dist-info/WHEEL")
    tags = [line.split(":", 1)[1].strip() for line in wheel_file.read_text().splitlines() if line.startswith("Tag:")]
    abi = "cp" + host_build["version"].replace(".", "")
    assert tags and all(tag.startswith(f"{abi}-{abi}-") and tag.endswith("x86_64") for tag in tags), tags


# ---- it imports -------------------------------------------------------------------------------------


def handler_modules(asset: Path) -> list[str]:
    return sorted(
        f"transflow_runtime.handlers.{p.stem}"
        for p in (asset / "transflow_runtime" / "handlers").glob("*.py")
        if p.stem != "__init__"
    )


def test_the_contract_handlers_exist_in_the_bundle(host_build: dict[str, Any]) -> None:
    expected = {
        h.rsplit(".", 1)[0]
        for h in (schema.HANDLER_STATUS, schema.HANDLER_AUTHORIZER, schema.HANDLER_WEBHOOK, schema.HANDLER_DISPATCHER)
    }
    assert expected <= set(handler_modules(host_build["asset"]))


def test_every_handler_imports_with_only_the_bundle_and_boto3(host_build: dict[str, Any], boto3_only: Path) -> None:
    asset: Path = host_build["asset"]
    modules = handler_modules(asset)
    assert modules
    for module in modules:
        handler_attr = next(
            (
                h.rsplit(".", 1)[1]
                for h in (
                    schema.HANDLER_STATUS,
                    schema.HANDLER_AUTHORIZER,
                    schema.HANDLER_WEBHOOK,
                    schema.HANDLER_DISPATCHER,
                )
                if h.rsplit(".", 1)[0] == module
            ),
            None,
        )
        code = (
            "import importlib, json\n"
            f"m = importlib.import_module({module!r})\n"
            f"attr = {handler_attr!r}\n"
            "assert attr is None or callable(getattr(m, attr)), 'handler function missing'\n"
            "print(json.dumps({'module': m.__file__, 'runtime': __import__('transflow_runtime').__file__}))\n"
        )
        result = run_isolated(host_build["python"], [asset, boto3_only], code)
        assert result.returncode == 0, f"{module} failed to import:\n{result.stderr[-4000:]}"
        seen = json.loads(result.stdout.strip().splitlines()[-1])
        assert seen["runtime"].startswith(str(asset)), seen


def test_the_status_and_authorizer_functions_need_no_boto3_on_lambda(host_build: dict[str, Any]) -> None:
    """Issue 15: with only the asset on the path (no boto3 at all), as Lambda runs it, both read-path
    handlers import and build their light AWS clients."""
    code = (
        "import json, sys\n"
        "import transflow_runtime.handlers.status as s, transflow_runtime.handlers.authorizer as a\n"
        "print(json.dumps({'clients': [type(s._dynamodb).__name__, type(a._secrets).__name__],\n"
        "                  'boto': sorted(m for m in sys.modules if m.startswith(('boto3', 'botocore')))}))\n"
    )
    result = run_isolated(host_build["python"], [host_build["asset"]], code,
                          {"AWS_LAMBDA_FUNCTION_NAME": "transflow-status", "AWS_SESSION_TOKEN": "testing"})
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"clients": ["DynamoDBClient", "SecretsManagerClient"], "boto": []}


def test_compiled_and_third_party_dependencies_load_from_the_bundle(
    host_build: dict[str, Any], boto3_only: Path
) -> None:
    """pydantic-core is a compiled wheel: loading it proves the platform/ABI choice was right."""
    code = (
        "import json, pydantic, pydantic_core, jwt\n"
        "assert pydantic.TypeAdapter(list[int]).validate_python(['1', 2]) == [1, 2]\n"
        "import transflow_runtime.models  # the runtime's pydantic models build\n"
        "token = jwt.encode({'sub': 'u'}, 'k' * 32, algorithm='HS256')\n"
        "assert jwt.decode(token, 'k' * 32, algorithms=['HS256'])['sub'] == 'u'\n"
        "print(json.dumps({'core': pydantic_core.__file__, 'jwt': jwt.__file__}))\n"
    )
    result = run_isolated(host_build["python"], [host_build["asset"], boto3_only], code)
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    for path in seen.values():
        assert path.startswith(str(host_build["asset"]))


def test_the_isolated_interpreter_cannot_see_this_venv(host_build: dict[str, Any], boto3_only: Path) -> None:
    """The import checks prove something only if nothing else is importable."""
    result = run_isolated(host_build["python"], [boto3_only], "import pydantic")
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


# ---- caching ----------------------------------------------------------------------------------------


def test_an_unchanged_asset_is_not_rebuilt(host_build: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("bundler ran although the asset was cached")

    monkeypatch.setattr(bundling, "build_bundle", refuse)
    arch = HOST_ARCHITECTURES[platform.machine().lower()]
    asset = build_asset(host_build["outdir"], arch, host_build["runtime"])
    assert asset == host_build["asset"]


def test_pip_failure_is_reported_not_swallowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "req.txt"
    bad.write_text("this is === not a requirement\n")  # pip refuses it before any network access
    monkeypatch.setattr(bundling, "REQUIREMENTS_FILE", bad)
    with pytest.raises(RuntimeError, match="pip exited"):
        bundling.install_requirements(tmp_path / "out", platform="manylinux2014_x86_64", python_version="3.13")


def test_an_unpinned_dependency_stops_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip runs with --no-deps: pydantic pinned alone installs alone, and the bundler names what is missing."""
    partial = tmp_path / "req.txt"
    partial.write_text(f"pydantic=={pins()['pydantic']}\n")
    monkeypatch.setattr(bundling, "REQUIREMENTS_FILE", partial)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match=r"does not pin every dependency \(pydantic requires .*pydantic-core"):
        bundling.install_requirements(out, platform="manylinux2014_aarch64", python_version="3.13")
    assert not list(out.glob("pydantic_core*")), "nothing beyond the pins was resolved and installed"


def test_zip_of_the_arm64_bundle_fits_the_direct_upload_limit(arm_asset: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(arm_asset.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(arm_asset).as_posix())
    assert archive.stat().st_size < 50 * 1024 * 1024
