"""The documentation is true: its code blocks parse, the runnable ones run, its references match the code.

- Every ``python`` block of the README and of ``docs/`` parses.
- The tutorial (docs/tutorial.md) is run from scratch, block by block, in a new project: shell
  commands, settings, files, a real ``runserver`` and the client script against it.
- The settings reference (docs/settings.md) lists exactly the ``DPOP_*`` settings the code reads,
  and the checks table (docs/checks.md) exactly the check ids the code can emit.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
BLOCK = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(path: Path, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(path.read_text()) if lang == language]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_python_block_parses(page: Path) -> None:
    for body in blocks(page, "python"):
        try:
            ast.parse(body)
        except SyntaxError as exc:  # pragma: no cover - the assertion message is the point
            pytest.fail(f"{page.name}: a python block does not parse ({exc}):\n{body}")


def _documented(page: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, (DOCS / page).read_text(), re.MULTILINE))


def test_settings_reference_matches_the_code() -> None:
    from django_dpop import conf

    read = {name for name in dir(conf.Settings) if name.startswith("DPOP_")}
    documented = _documented("settings.md", r"^\| `(DPOP_[A-Z0-9_]+)`")
    assert read - documented == set(), "settings the code reads but docs/settings.md does not list"
    assert documented - read == set(), "settings docs/settings.md lists but the code does not read"


def _emitted_check_ids() -> set[str]:
    ids = set()
    for path in (ROOT / "django_dpop").rglob("*.py"):
        ids |= set(re.findall(r"\"(django_dpop(?:_oauth2)?\.[EW]\d{3})\"", path.read_text()))
    return ids


def test_checks_table_matches_the_code() -> None:
    documented = _documented("checks.md", r"^\| `(django_dpop(?:_oauth2)?\.[EW]\d{3})`")
    emitted = _emitted_check_ids()
    assert emitted, "no check ids found in the code"
    assert emitted - documented == set(), "check ids the code emits but docs/checks.md does not list"
    assert documented - emitted == set(), "check ids docs/checks.md lists but the code does not emit"


# -- the tutorial, run ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _file_blocks(page: Path) -> dict[str, str]:
    """``path -> body`` of the python blocks whose first line names a file (``# mysite/api.py``)."""
    files = {}
    for body in blocks(page, "python"):
        first = body.splitlines()[0]
        match = re.fullmatch(r"# ([\w/]+\.py)( \(appended\))?", first)
        assert match, f"tutorial python block without a file name: {first!r}"
        files[match.group(1) + ("+" if match.group(2) else "")] = body
    return files


def _shell_commands(page: Path) -> list[list[str]]:
    """The shell commands of the tutorial's bash blocks (line continuations joined)."""
    commands = []
    for body in blocks(page, "bash"):
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.extend(shlex.split(part) for part in line.split("&&"))
    return commands


def test_tutorial_runs_from_scratch(tmp_path: Path) -> None:
    page = DOCS / "tutorial.md"
    commands = _shell_commands(page)
    files = _file_blocks(page)
    assert {"mysite/settings.py+", "mysite/api.py", "mysite/urls.py", "client.py"} <= set(files)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DPOP_"))}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    port = _free_port()

    def run(argv: list[str]) -> None:
        result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"

    server = None
    try:
        for argv in commands:
            if argv[:2] == ["python3", "-m"] or argv[0] in {".", "pip"}:
                continue  # the virtual environment and install: this test runs inside one already
            if argv[0] == "django-admin":
                run([str(Path(bin_dir) / "django-admin"), *argv[1:]])
                settings = tmp_path / "mysite" / "settings.py"
                settings.write_text(settings.read_text() + "\n" + files["mysite/settings.py+"])
                (tmp_path / "mysite" / "api.py").write_text(files["mysite/api.py"])
                (tmp_path / "mysite" / "urls.py").write_text(files["mysite/urls.py"])
                continue
            assert argv[:2] == ["python", "manage.py"], argv
            argv = [sys.executable, *argv[1:]]
            if argv[2] == "runserver":
                argv = [*argv[:3], f"127.0.0.1:{port}", "--noreload"]
                server = subprocess.Popen(
                    argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
                deadline = time.monotonic() + 60
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        assert server.poll() is None, server.stderr.read().decode()
                        assert time.monotonic() < deadline, "runserver did not start"
                        time.sleep(0.2)
                continue
            run(argv)
        assert server is not None, "the tutorial starts no server"
        client = files["client.py"].replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
        (tmp_path / "client.py").write_text(client)
        result = subprocess.run(
            [sys.executable, "client.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "token_type: DPoP"
        assert lines[1].startswith("200 {")
        assert lines[2] == "401"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
