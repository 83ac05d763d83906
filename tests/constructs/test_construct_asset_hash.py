"""The asset hash: it changes with anything that changes what is shipped, and with nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from transflow_constructs import bundling

ARM = lambda_.Architecture.ARM_64
X86 = lambda_.Architecture.X86_64


@pytest.fixture
def runtime_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the runtime package and the pins for the hash to read."""
    package = tmp_path / "transflow_runtime"
    shutil.copytree(bundling.runtime_package_dir(), package, ignore=shutil.ignore_patterns("__pycache__"))
    requirements = tmp_path / "bundle-requirements.txt"
    requirements.write_bytes(bundling.REQUIREMENTS_FILE.read_bytes())
    monkeypatch.setattr(bundling, "runtime_package_dir", lambda: package)
    monkeypatch.setattr(bundling, "REQUIREMENTS_FILE", requirements)
    return package


def test_hash_depends_on_architecture_and_python_version() -> None:
    hashes = {bundling.asset_hash(arch, version) for arch in (ARM, X86) for version in ("3.12", "3.13")}
    assert len(hashes) == 4


def test_hash_is_stable_for_unchanged_input(runtime_copy: Path) -> None:
    assert bundling.asset_hash(ARM, "3.13") == bundling.asset_hash(ARM, "3.13")


def test_hash_changes_with_a_source_file(runtime_copy: Path) -> None:
    before = bundling.asset_hash(ARM, "3.13")
    schema_file = runtime_copy / "schema.py"
    schema_file.write_text(schema_file.read_text() + "\n# changed\n")
    assert bundling.asset_hash(ARM, "3.13") != before


def test_hash_changes_with_a_new_file(runtime_copy: Path) -> None:
    before = bundling.asset_hash(ARM, "3.13")
    (runtime_copy / "extra.py").write_text("X = 1\n")
    assert bundling.asset_hash(ARM, "3.13") != before


def test_hash_changes_with_the_pins(runtime_copy: Path) -> None:
    before = bundling.asset_hash(ARM, "3.13")
    bundling.REQUIREMENTS_FILE.write_text(bundling.REQUIREMENTS_FILE.read_text().replace("==", "== "))
    assert bundling.asset_hash(ARM, "3.13") != before


def test_hash_ignores_bytecode_caches(runtime_copy: Path) -> None:
    before = bundling.asset_hash(ARM, "3.13")
    cache = runtime_copy / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "schema.cpython-313.pyc").write_bytes(b"\x00bytecode")
    (runtime_copy / "stray.pyc").write_bytes(b"\x00")
    assert bundling.asset_hash(ARM, "3.13") == before


def test_copy_skips_bytecode(runtime_copy: Path, tmp_path: Path) -> None:
    cache = runtime_copy / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "schema.cpython-313.pyc").write_bytes(b"\x00")
    out = tmp_path / "out"
    bundling.copy_runtime(out)
    assert (out / "transflow_runtime" / "schema.py").is_file()
    assert not list(out.rglob("__pycache__")) and not list(out.rglob("*.pyc"))


def test_pip_platform_tags() -> None:
    assert bundling.pip_platform(ARM) == "manylinux2014_aarch64"
    assert bundling.pip_platform(X86) == "manylinux2014_x86_64"


def test_python_version_comes_from_the_runtime() -> None:
    assert bundling.python_version_of(lambda_.Runtime.PYTHON_3_13) == "3.13"
    assert bundling.python_version_of(lambda_.Runtime.PYTHON_3_12) == "3.12"
    with pytest.raises(ValueError, match="Python 3"):
        bundling.python_version_of(lambda_.Runtime.NODEJS_20_X)


def test_runtime_package_is_located_through_its_module() -> None:
    import transflow_runtime

    assert bundling.runtime_package_dir() == Path(transflow_runtime.__file__).resolve().parent


def test_local_mode_is_neither_hashed_nor_shipped(runtime_copy: Path, tmp_path: Path) -> None:
    """``transflow_runtime.local`` never runs in Lambda: editing it must not produce a new asset."""
    assert (runtime_copy / "local" / "__init__.py").is_file()
    before = bundling.asset_hash(ARM, "3.13")
    (runtime_copy / "local" / "runner.py").write_text("# changed\n")
    (runtime_copy / "local" / "new_module.py").write_text("X = 1\n")
    assert bundling.asset_hash(ARM, "3.13") == before
    out = tmp_path / "out"
    bundling.copy_runtime(out)
    assert not (out / "transflow_runtime" / "local").exists()
    assert (out / "transflow_runtime" / "cli.py").is_file()


def test_a_file_named_like_the_excluded_package_elsewhere_is_still_shipped(runtime_copy: Path, tmp_path: Path) -> None:
    """Only the top-level ``local`` package is left out, not every directory of that name."""
    nested = runtime_copy / "handlers" / "local"
    nested.mkdir()
    (nested / "x.py").write_text("X = 1\n")
    before_change = bundling.asset_hash(ARM, "3.13")
    (nested / "x.py").write_text("X = 2\n")
    assert bundling.asset_hash(ARM, "3.13") != before_change
    out = tmp_path / "out"
    bundling.copy_runtime(out)
    assert (out / "transflow_runtime" / "handlers" / "local" / "x.py").is_file()


def test_the_copy_holds_exactly_the_hashed_files(runtime_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundling.copy_runtime(out)
    copied = {p.relative_to(out / "transflow_runtime").as_posix() for p in out.rglob("*") if p.is_file()}
    hashed = {p.relative_to(runtime_copy).as_posix() for p in bundling._source_files(runtime_copy)}
    assert copied == hashed
    assert "schema.py" in copied and "handlers/status.py" in copied


# ---- the hash depends only on what ships (issue 11, point 11) --------------------------------------


def test_a_crlf_checkout_hashes_and_ships_like_an_lf_one(runtime_copy: Path, tmp_path: Path) -> None:
    """git's ``core.autocrlf=true`` (the Git for Windows default) checks text out with CRLF endings."""
    before = bundling.asset_hash(ARM, "3.13")
    lf_out = tmp_path / "lf"
    bundling.copy_runtime(lf_out)
    for path in [*runtime_copy.rglob("*.py"), bundling.REQUIREMENTS_FILE]:
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert b"\r\n" in (runtime_copy / "schema.py").read_bytes()
    assert bundling.asset_hash(ARM, "3.13") == before
    crlf_out = tmp_path / "crlf"
    bundling.copy_runtime(crlf_out)
    shipped = {p.relative_to(lf_out): p.read_bytes() for p in lf_out.rglob("*") if p.is_file()}
    assert shipped == {p.relative_to(crlf_out): p.read_bytes() for p in crlf_out.rglob("*") if p.is_file()}
    assert all(b"\r\n" not in content for content in shipped.values())


STRAY = [".DS_Store", ".schema.py.swp", "schema.py~", "#schema.py#", ".#schema.py", "notes.txt", "Thumbs.db"]


def test_stray_files_are_neither_shipped_nor_hashed(runtime_copy: Path, tmp_path: Path) -> None:
    before = bundling.asset_hash(ARM, "3.13")
    for name in STRAY:
        (runtime_copy / name).write_bytes(b"stray")
        (runtime_copy / "handlers" / name).write_bytes(b"stray")
    (runtime_copy / ".idea").mkdir()
    (runtime_copy / ".idea" / "workspace.py").write_text("X = 1\n")
    assert bundling.asset_hash(ARM, "3.13") == before
    out = tmp_path / "out"
    bundling.copy_runtime(out)
    names = {p.name for p in out.rglob("*")}
    assert not names & set(STRAY) and ".idea" not in names


def test_a_change_to_the_bundler_itself_changes_the_hash(runtime_copy: Path, tmp_path: Path, monkeypatch) -> None:
    """No constant to bump: the bundler's own source is part of the hash."""
    before = bundling.asset_hash(ARM, "3.13")
    changed = tmp_path / "bundling.py"
    changed.write_text(bundling.BUNDLER_SOURCE.read_text().replace('"--no-compile",', '"--no-compile", "--pre",'))
    monkeypatch.setattr(bundling, "BUNDLER_SOURCE", changed)
    assert bundling.asset_hash(ARM, "3.13") != before


def test_every_tracked_runtime_file_ships() -> None:
    """The ship list is an allow-list: a tracked file it would leave out fails here, not in Lambda."""
    import subprocess

    from .cdk_helpers import REPO

    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "lambda_src/transflow_runtime"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    tracked = {
        Path(p).relative_to("lambda_src/transflow_runtime").as_posix()
        for p in listed
        if not p.startswith("lambda_src/transflow_runtime/local/")
    }
    root = bundling.runtime_package_dir()
    shipped = {p.relative_to(root).as_posix() for p in bundling._source_files(root)}
    assert tracked and tracked <= shipped, sorted(tracked - shipped)
