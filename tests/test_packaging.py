"""The distribution as a user receives it: wheel and sdist contents, metadata, extras' messages."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import textwrap
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    pytest.importorskip("build", reason="the 'build' package (test extra) builds the distributions")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return out


def _wheel(dist: Path) -> zipfile.ZipFile:
    (path,) = dist.glob("*.whl")
    return zipfile.ZipFile(path)


def test_twine_check_passes(dist: Path) -> None:
    pytest.importorskip("twine", reason="twine (test extra) checks the metadata")
    files = [str(p) for p in sorted(dist.iterdir())]
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_holds_the_package_licence_and_migrations_but_no_tests(dist: Path) -> None:
    names = _wheel(dist).namelist()
    assert "django_dpop/py.typed" in names
    assert "django_dpop/migrations/0001_initial.py" in names
    assert "django_dpop/contrib/oauth2_provider/migrations/0001_initial.py" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"django_dpop", next(n for n in top_level if n.endswith(".dist-info"))}


def test_wheel_metadata_is_complete(dist: Path) -> None:
    wheel = _wheel(dist)
    (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata["Author"]
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    classifiers = set(metadata.get_all("Classifier"))
    assert any(c.startswith("Development Status ::") for c in classifiers)
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Framework :: Django :: 5.2" in classifiers
    assert any(c.startswith("Framework :: Django :: 6.") for c in classifiers)
    assert metadata["Requires-Python"] == ">=3.11"


def test_sdist_holds_no_tests_and_builds_the_same_package(dist: Path) -> None:
    (path,) = dist.glob("*.tar.gz")
    with tarfile.open(path) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    assert "LICENSE" in names and "README.md" in names and "pyproject.toml" in names
    assert not [name for name in names if name.startswith(("tests/", "example_project/", "benchmarks/"))]
    assert "django_dpop/core/proof.py" in names


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("django_dpop.client.httpx_auth", "httpx", "httpx"),
        ("django_dpop.client.requests_auth", "requests", "requests"),
        ("django_dpop.contrib.prometheus", "prometheus_client", "prometheus"),
    ],
)
def test_optional_extra_import_names_the_extra(module: str, blocked: str, extra: str) -> None:
    """Without the extra installed, importing its client says what to install (not a bare error)."""
    code = textwrap.dedent(
        f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == {blocked!r} or name.startswith({blocked!r} + "."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}")
        sys.meta_path.insert(0, Block())
        try:
            import {module}
        except ImportError as exc:
            print(exc)
        else:
            print("imported")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert f"pip install 'django-dpop[{extra}]'" in result.stdout, result.stdout + result.stderr


def _floors() -> dict[str, str]:
    """``name -> lowest version`` of every requirement pyproject declares (``name[extra]>=X``)."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    floors = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9][0-9A-Za-z.]*)", requirement)
        if match is None:
            assert requirement.startswith("django-dpop["), f"no floor: {requirement}"
            continue
        floors[match.group(1).lower().replace("_", "-")] = match.group(2)
    return floors


def test_every_declared_floor_is_the_version_the_lowest_job_installs() -> None:
    """``.ci/lowest.txt`` pins each floor of pyproject exactly, so CI proves the floors it declares."""
    from packaging.version import Version

    pins = {}
    for line in (ROOT / ".ci" / "lowest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    floors = _floors()
    assert floors, "pyproject declares no floors"
    for name, floor in floors.items():
        pinned = pins.get(name)
        assert pinned is not None and Version(pinned) == Version(floor), (
            f"{name}: pyproject says >={floor}, .ci/lowest.txt pins {pinned}"
        )
