"""The command line, run as users run it: ``python -m django_dpop`` in a subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from django_dpop.client import DPoPKey, compute_ath
from django_dpop.core import InvalidDPoPProof, NonceStatus, ProofPolicy, verify_proof


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django_dpop", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_keygen_writes_a_0600_jwk_and_prints_its_thumbprint(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    result = run("keygen", "--out", str(path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    jwk = json.loads(path.read_text())
    assert jwk["alg"] == "ES256" and "d" in jwk
    assert result.stdout.strip() == DPoPKey.from_jwk(jwk).thumbprint


def test_keygen_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text("keep me")
    path.chmod(0o644)
    result = run("keygen", "--out", str(path))
    assert result.returncode == 2
    assert "exists" in result.stderr and "--force" in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == "keep me"
    result = run("keygen", "--alg", "EdDSA", "--out", str(path), "--force")
    assert result.returncode == 0, result.stderr
    assert json.loads(path.read_text())["alg"] == "EdDSA"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # not the old file's 0644


def test_keygen_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "key.json").symlink_to(target)
    result = run("keygen", "--out", str(tmp_path / "key.json"))
    assert result.returncode == 2 and not target.exists()


def test_keygen_to_stdout_and_rsa(tmp_path: Path) -> None:
    result = run("keygen", "--alg", "PS256", "--rsa-bits", "3072")
    assert result.returncode == 0, result.stderr
    key = DPoPKey.from_jwk(result.stdout)
    assert key.alg == "PS256" and key.signing_key.key_size == 3072
    assert key.thumbprint in result.stderr


def test_keygen_refuses_weak_rsa_and_unknown_alg() -> None:
    weak = run("keygen", "--alg", "RS256", "--rsa-bits", "1024")
    assert weak.returncode == 2 and "rsa_bits" in weak.stderr and "Traceback" not in weak.stderr
    unknown = run("keygen", "--alg", "HS256")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_thumbprint_and_public_jwk_from_jwk_and_pem(tmp_path: Path) -> None:
    key = DPoPKey.generate("ES384")
    jwk_file = tmp_path / "key.json"
    pem_file = tmp_path / "key.pem"
    jwk_file.write_text(json.dumps(key.to_jwk()))
    pem_file.write_bytes(key.to_pem())
    for path in (jwk_file, pem_file):
        path.chmod(0o600)
        result = run("thumbprint", "--key", str(path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == key.thumbprint
        assert result.stderr == ""
    public = json.loads(run("public-jwk", "--key", str(pem_file)).stdout)
    assert public == {**key.public_jwk, "alg": "ES384"}


def test_world_readable_key_gets_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(DPoPKey.generate().to_jwk()))
    path.chmod(0o644)
    result = run("thumbprint", "--key", str(path))
    assert result.returncode == 0 and "chmod 600" in result.stderr


def test_proof_verifies_with_core_and_pyjwt(tmp_path: Path) -> None:
    key = DPoPKey.generate()
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key.to_jwk()))
    path.chmod(0o600)
    url = "http://127.0.0.1:8000/api/me/?page=2#top"
    result = run(
        "proof", "--key", str(path), "--method", "GET", "--url", url, "--token", "at-1", "--nonce", "n-1"
    )
    assert result.returncode == 0, result.stderr
    proof = result.stdout.strip()
    verified = verify_proof(
        proof,
        method="GET",
        url="http://127.0.0.1:8000/api/me/",
        now=time.time(),
        policy=ProofPolicy(nonce_required=True),
        access_token="at-1",
        nonce_checker=lambda nonce: NonceStatus.CURRENT if nonce == "n-1" else NonceStatus.INVALID,
    )
    assert verified.jkt == key.thumbprint and verified.nonce == "n-1"
    header = jwt.get_unverified_header(proof)
    claims = jwt.decode(proof, key=jwt.PyJWK(header["jwk"]).key, algorithms=[header["alg"]])
    assert claims["htu"] == "http://127.0.0.1:8000/api/me/" and claims["ath"] == compute_ath("at-1")


def test_proof_takes_a_nonce_and_token_that_start_with_a_dash(tmp_path: Path) -> None:
    # Server nonces and tokens are base64url and may start with "-": the "=" form passes them.
    path = tmp_path / "key.json"
    path.write_text(json.dumps(DPoPKey.generate().to_jwk()))
    path.chmod(0o600)
    url = "http://127.0.0.1:8000/api/me/"
    result = run("proof", "--key", str(path), "--method", "GET", "--url", url, "--token=-at", "--nonce=-n1")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["nonce"] == "-n1" and claims["ath"] == compute_ath("-at")


def test_proof_token_from_stdin_and_no_token(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(DPoPKey.generate("EdDSA").to_pem())
    path.chmod(0o600)
    result = run(
        "proof",
        "--key",
        str(path),
        "--method",
        "POST",
        "--url",
        "http://x/",
        "--token-file",
        "-",
        stdin="tok\n",
    )
    assert result.returncode == 0, result.stderr
    assert jwt.decode(result.stdout.strip(), options={"verify_signature": False})["ath"] == compute_ath("tok")
    bare = run("proof", "--key", str(path), "--method", "POST", "--url", "http://x/o/token/")
    claims = jwt.decode(bare.stdout.strip(), options={"verify_signature": False})
    assert "ath" not in claims and "nonce" not in claims and claims["htm"] == "POST"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ("--method", "GET", "--url", "http://x/"), "cannot read key file"),
        ("not a key", ("--method", "GET", "--url", "http://x/"), "neither a JWK"),
        ('{"kty": "EC"}', ("--method", "GET", "--url", "http://x/"), "no private part"),
        (
            "-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n",
            ("--method", "GET", "--url", "http://x/"),
            "malformed PEM",
        ),
        ("KEY", ("--method", "GET", "--url", "not-a-url"), "URL"),
        ("KEY", ("--method", "GET", "--url", "http://x/", "--nonce", "bad nonce"), "nonce"),
        ("KEY", ("--method", "GET", "--url", "http://x/", "--token", "bad token"), "access token"),
        ("PUBLIC", ("--method", "GET", "--url", "http://x/"), "public key"),
    ],
)
def test_errors_exit_2_with_one_line_and_no_traceback(
    tmp_path: Path, content: str | None, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "key"
    key = DPoPKey.generate()
    if content == "KEY":
        content = json.dumps(key.to_jwk())
    elif content == "PUBLIC":
        content = key.public_pem().decode()
    if content is not None:
        path.write_text(content)
        path.chmod(0o600)
    result = run("proof", "--key", str(path), *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "bad token" not in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run().returncode == 2
    assert run("proof", "--key", "x").returncode == 2


def test_console_script_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import entry_points

    from django_dpop.client.cli import main

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "django-dpop"]
    assert script.value == "django_dpop.client.cli:main"
    assert script.load() is main
    assert main(["thumbprint", "--key", "/nonexistent"]) == 2
    assert "cannot read key file" in capsys.readouterr().err


def test_undecodable_stdin_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(DPoPKey.generate().to_jwk()))
    path.chmod(0o600)
    for args in (
        ("--key", str(path), "--token-file", "-"),  # the token from stdin
        ("--key", "-"),  # the key from stdin
    ):
        result = subprocess.run(
            [sys.executable, "-m", "django_dpop", "proof", *args, "--method", "GET", "--url", "http://x/"],
            capture_output=True,
            input=b"\xff\xfe\x80 not utf-8",
            timeout=60,
            env={**os.environ, "PYTHONWARNINGS": "error", "PYTHONIOENCODING": "utf-8"},
        )
        assert result.returncode == 2, result.stderr
        assert b"Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("alg", ["Ed25519", "Ed448"])
def test_keygen_fully_specified_eddsa_and_its_proof_verifies(tmp_path: Path, alg: str) -> None:
    # RFC 9864 §2.2: the key file and every proof carry the fully-specified name.
    path = tmp_path / "key.json"
    result = run("keygen", "--alg", alg, "--out", str(path))
    assert result.returncode == 0, result.stderr
    jwk = json.loads(path.read_text())
    assert jwk["alg"] == alg and jwk["crv"] == alg
    url = "https://rs.example/api"
    result = run("proof", "--key", str(path), "--method", "GET", "--url", url)
    assert result.returncode == 0, result.stderr
    proof = result.stdout.strip()
    assert jwt.get_unverified_header(proof)["alg"] == alg
    verified = verify_proof(proof, method="GET", url=url, now=time.time(), policy=ProofPolicy())
    assert verified.alg == alg and verified.jkt == DPoPKey.from_jwk(jwk).thumbprint
    refused = ProofPolicy(allowed_algorithms=("EdDSA",))  # the name is not merely an alias
    with pytest.raises(InvalidDPoPProof, match="alg is not allowed"):
        verify_proof(proof, method="GET", url=url, now=time.time(), policy=refused)
