"""The one Lambda asset: ``transflow_runtime`` plus its pinned wheels, built without Docker.

CDK's default Python bundling runs pip inside a Docker image. This bundler does the same job on
the synthesizing machine: it copies the ``transflow_runtime`` package (found through its
``__file__``, so it works from the source tree and from an installed wheel alike) and asks pip
for the wheels matching the function's architecture and Python version
(``--platform manylinux2014_<arch> --only-binary=:all:``). pip runs with ``--no-deps``: every
distribution in the asset is pinned in ``bundle-requirements.txt``, and after the install the
bundler checks that each one's requirements are among them (or provided by the Lambda runtime), so
an unpinned dependency stops the synthesis instead of being resolved to whatever version is newest.
No bytecode is written: Lambda compiles on import, and ``.pyc`` files would make the asset differ
between machines.

The asset hash is computed here (``AssetHashType.CUSTOM``) from exactly what ships: the runtime's
source files (``*.py`` and ``py.typed``; stray files such as ``.DS_Store`` or editor swap files are
neither shipped nor hashed), the pins, the architecture, the Python version and this bundler's own
source (a change to how the asset is built changes the hash without anyone bumping a constant). Text
is hashed and shipped with LF line endings, so a Windows checkout (CRLF) hashes and ships like a
Linux one. An unchanged asset is never rebuilt (CDK reuses ``cdk.out/asset.<hash>``).

``transflow_runtime.local`` (local mode: the moto-backed emulation behind ``transflow-status
local``) never runs in Lambda, so it is neither shipped nor hashed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aws_cdk as cdk
import jsii
import transflow_runtime
from aws_cdk import aws_lambda as lambda_

#: The bundler's own source: part of the hash, so a change to how the asset is built is a new asset.
BUNDLER_SOURCE = Path(__file__)
REQUIREMENTS_FILE = Path(__file__).with_name("bundle-requirements.txt")
_SKIPPED_DIRS = frozenset({"__pycache__"})
#: Sub-packages of ``transflow_runtime`` that stay out of the asset (paths relative to the package).
EXCLUDED_SUBPACKAGES = frozenset({"local"})
#: What ships: Python modules and the PEP 561 marker. Anything else in the package directory (editor
#: swap and backup files, ``.DS_Store``, notes) is left out of the asset and of its hash.
SHIPPED_SUFFIXES = (".py",)
SHIPPED_NAMES = frozenset({"py.typed"})

_PLATFORM_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
#: What Lambda's Python runtime provides: a pinned distribution may require these unbundled.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil", "six"})
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def runtime_package_dir() -> Path:
    """Directory of the ``transflow_runtime`` package that will be shipped."""
    return Path(transflow_runtime.__file__).resolve().parent


def python_version_of(runtime: lambda_.Runtime) -> str:
    """``"3.13"`` for ``Runtime.PYTHON_3_13``; ``ValueError`` for a non-Python runtime."""
    name = runtime.name
    if runtime.family != lambda_.RuntimeFamily.PYTHON or not name.startswith("python3."):
        raise ValueError(f"runtime must be a Python 3 Lambda runtime, got {name!r}")
    version = name.removeprefix("python")
    minor = int(version.split(".")[1])
    if minor < 11:
        raise ValueError(f"runtime {name!r} is too old: transflow_runtime needs Python 3.11 or newer")
    return version


def pip_platform(architecture: lambda_.Architecture) -> str:
    """pip's ``--platform`` tag for a Lambda architecture."""
    machine = _PLATFORM_MACHINE.get(architecture.name)
    if machine is None:
        raise ValueError(f"unsupported Lambda architecture {architecture.name!r}")
    return f"manylinux2014_{machine}"


def _shipped_dir(root: Path, dirpath: str, name: str) -> bool:
    """Whether directory ``name`` inside ``dirpath`` belongs in the asset."""
    if name in _SKIPPED_DIRS or name.startswith("."):
        return False
    return Path(dirpath, name).relative_to(root).as_posix() not in EXCLUDED_SUBPACKAGES


def is_shipped_file(name: str) -> bool:
    """A module or the typing marker; never a hidden or editor file (``.#x.py``, ``#x.py#``, ``x.py~``)."""
    if name.startswith((".", "#")):
        return False
    return name in SHIPPED_NAMES or name.endswith(SHIPPED_SUFFIXES)


def _source_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if _shipped_dir(root, dirpath, d))
        for name in sorted(filenames):
            if is_shipped_file(name):
                yield Path(dirpath, name)


def text_content(path: Path) -> bytes:
    """A text file's bytes with LF line endings (what is hashed and what ships)."""
    return path.read_bytes().replace(b"\r\n", b"\n")


def asset_hash(architecture: lambda_.Architecture, python_version: str) -> str:
    """Hash of everything that determines the asset's content."""
    digest = hashlib.sha256()
    digest.update(f"arch={architecture.name}\0python={python_version}\0".encode())
    digest.update(b"bundler\0" + text_content(BUNDLER_SOURCE) + b"\0")
    digest.update(b"requirements\0" + text_content(REQUIREMENTS_FILE) + b"\0")
    root = runtime_package_dir()
    for path in _source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(text_content(path) + b"\0")
    return digest.hexdigest()


def copy_runtime(output_dir: Path) -> None:
    """Write the shipped files of ``transflow_runtime`` into ``output_dir`` (exactly the files, and the
    bytes, ``asset_hash`` reads)."""
    root = runtime_package_dir()
    for path in _source_files(root):
        target = output_dir / "transflow_runtime" / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text_content(path))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _applies(marker: str, *, python_version: str, machine: str) -> bool:
    """Whether a requirement's environment marker holds on Lambda (``extra`` markers never do).

    Evaluated with ``packaging`` when it is importable; without it every non-extra requirement
    counts as needed (a false alarm names the requirement; a miss would fail only in Lambda).
    """
    if not marker:
        return True
    if "extra" in marker:
        return False
    try:
        from packaging.markers import Marker
    except ImportError:  # pragma: no cover - packaging is almost always present next to pip
        return True
    return Marker(marker).evaluate(
        {
            "python_version": python_version,
            "python_full_version": f"{python_version}.0",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "platform_machine": machine,
            "platform_system": "Linux",
            "sys_platform": "linux",
            "os_name": "posix",
        }
    )


def unpinned_dependencies(output_dir: Path, *, python_version: str, machine: str) -> dict[str, list[str]]:
    """``{distribution installed in output_dir: [its requirements that are neither installed there nor
    provided by the Lambda runtime]}``; empty when the pins are complete."""
    installed = {_canonical(d.metadata["Name"]): d for d in importlib.metadata.distributions(path=[str(output_dir)])}
    missing: dict[str, list[str]] = {}
    for name, distribution in sorted(installed.items()):
        for requirement in distribution.requires or []:
            spec, _, marker = requirement.partition(";")
            match = _REQUIREMENT_NAME.match(spec)
            if match is None or not _applies(marker.strip(), python_version=python_version, machine=machine):
                continue
            needed = _canonical(match.group(1))
            if needed not in installed and needed not in RUNTIME_PROVIDED:
                missing.setdefault(name, []).append(requirement.strip())
    return missing


def _require_pip() -> None:
    """pip is not part of every Python (Debian's python3 without python3-pip, some venvs)."""
    if importlib.util.find_spec("pip") is None:
        raise RuntimeError(
            f"bundling the Lambda asset needs pip, and the Python running this CDK app ({sys.executable}) has "
            "none. Install it into that interpreter (python -m ensurepip --upgrade, or your distribution's "
            "python3-pip package), or synthesize from a virtualenv, which includes pip."
        )


def install_requirements(output_dir: Path, *, platform: str, python_version: str) -> None:
    """Install exactly the pinned wheels for the target platform into ``output_dir``."""
    _require_pip()
    command = [
        sys.executable, "-m", "pip", "install",
        "--target", str(output_dir),
        "--platform", platform,
        "--implementation", "cp",
        "--python-version", python_version,
        "--only-binary=:all:",
        "--no-deps",
        "--no-compile",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "-r", str(REQUIREMENTS_FILE),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(
            f"bundling the Lambda asset failed: pip exited with {result.returncode} for {platform} / "
            f"Python {python_version}.\n{result.stdout}{result.stderr}"
        )
    missing = unpinned_dependencies(
        output_dir, python_version=python_version, machine=platform.removeprefix("manylinux2014_")
    )
    if missing:
        needs = "; ".join(f"{name} requires {', '.join(reqs)}" for name, reqs in missing.items())
        raise RuntimeError(
            f"bundling the Lambda asset failed: {REQUIREMENTS_FILE.name} does not pin every dependency ({needs}). "
            "pip runs with --no-deps so that nothing unpinned is shipped: add an exact pin for each."
        )


def build_bundle(output_dir: str | os.PathLike[str], architecture: lambda_.Architecture, python_version: str) -> None:
    """Write the complete asset (runtime source + wheels) into ``output_dir``."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    install_requirements(out, platform=pip_platform(architecture), python_version=python_version)
    copy_runtime(out)


@jsii.implements(cdk.ILocalBundling)
class LocalBundler:
    """CDK local bundling hook: builds the asset on this machine instead of in Docker."""

    def __init__(self, architecture: lambda_.Architecture, python_version: str) -> None:
        self._architecture = architecture
        self._python_version = python_version

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: object) -> bool:
        """Build into ``output_dir``; raises (never falls back to Docker) when pip fails."""
        build_bundle(output_dir, self._architecture, self._python_version)
        return True


def runtime_code(architecture: lambda_.Architecture, runtime: lambda_.Runtime) -> lambda_.Code:
    """The shared asset for every function of one ``TransflowStatus``."""
    python_version = python_version_of(runtime)
    return lambda_.Code.from_asset(
        str(runtime_package_dir()),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=asset_hash(architecture, python_version),
        bundling=cdk.BundlingOptions(
            # Only a fallback required by the API: LocalBundler always bundles or raises.
            image=runtime.bundling_image,
            local=LocalBundler(architecture, python_version),
        ),
    )
