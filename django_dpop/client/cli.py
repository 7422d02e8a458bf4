"""``django-dpop`` / ``python -m django_dpop``: DPoP keys and proofs from the shell, for curl users.

    django-dpop keygen --out key.json            # private JWK, mode 0600; prints the thumbprint
    django-dpop thumbprint --key key.json        # the dpop_jkt value (RFC 9449 §10)
    django-dpop proof --key key.json --method POST --url http://127.0.0.1:8000/o/token/
    curl -H "DPoP: $(django-dpop proof --key key.json --method GET --url $URL --token "$AT")" \\
         -H "Authorization: DPoP $AT" "$URL"

Errors print one line on stderr and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Sequence

from .errors import DPoPClientError
from .keys import DEFAULT_ALGORITHM, MIN_RSA_BITS, SUPPORTED_ALGORITHMS, DPoPKey, load_key
from .proofs import create_proof


PROG = "django-dpop"
EXIT_ERROR = 2
MAX_KEY_FILE = 1 << 20  # a key file is a few KB; refuse to slurp anything huge


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    from django_dpop import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="DPoP (RFC 9449) keys and proofs for the command line."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    keygen = commands.add_parser("keygen", help="generate a private key (JWK) and print its thumbprint")
    keygen.add_argument(
        "--alg", default=DEFAULT_ALGORITHM, choices=SUPPORTED_ALGORITHMS, help="default: %(default)s"
    )
    keygen.add_argument(
        "--rsa-bits", type=int, default=MIN_RSA_BITS, help="RSA key size (default: %(default)s)"
    )
    keygen.add_argument(
        "--out", metavar="FILE", help="write the private JWK here, mode 0600 (default: stdout)"
    )
    keygen.add_argument("--force", action="store_true", help="replace FILE if it exists")

    thumbprint = commands.add_parser("thumbprint", help="print the RFC 7638 thumbprint (dpop_jkt) of a key")
    _key_arguments(thumbprint)

    public = commands.add_parser("public-jwk", help="print the public JWK of a key")
    _key_arguments(public)

    proof = commands.add_parser("proof", help="print one DPoP proof, for a DPoP request header")
    _key_arguments(proof)
    proof.add_argument("--method", required=True, help="HTTP method of the request, e.g. GET or POST")
    proof.add_argument("--url", required=True, help="URL of the request (query and fragment are left out)")
    tokens = proof.add_mutually_exclusive_group()
    tokens.add_argument("--token", metavar="T", help="access token, for a resource request (adds ath)")
    tokens.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the access token from FILE ('-' for stdin), out of ps and history",
    )
    proof.add_argument("--nonce", metavar="N", help="server nonce from a DPoP-Nonce header")
    return parser


def _key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, metavar="FILE", help="private key file: JWK (JSON) or PEM")
    parser.add_argument(
        "--alg", choices=SUPPORTED_ALGORITHMS, help="algorithm, if the file does not say (PEM)"
    )


def _read_text(path: str, what: str) -> str:
    try:
        if path == "-":
            # Bytes, decoded below like a file: stdin's own decoding raised on bad input.
            data = sys.stdin.buffer.read(MAX_KEY_FILE + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise CommandError(f"cannot read {what} {path!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE:
        raise CommandError(f"{what} {path!r} is too large")
    return data.decode("utf-8", "replace")


def _load(args: argparse.Namespace) -> DPoPKey:
    with contextlib.suppress(OSError):
        mode = os.stat(args.key).st_mode
        if stat.S_ISREG(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
            print(f"{PROG}: warning: {args.key} is accessible by other users; chmod 600 it", file=sys.stderr)
    return load_key(_read_text(args.key, "key file"), args.alg)


def _write_private(path: str, text: str, force: bool) -> None:
    """Create ``path`` with mode 0600 from the start (never chmod after writing)."""
    if not force:
        try:
            # O_EXCL: refuse an existing file, and never follow a planted symlink.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{path!r} exists; use --force to replace it") from None
        except OSError as exc:
            raise CommandError(f"cannot write {path!r}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    # --force: write a new 0600 file beside it, then rename over: the old file's mode is not kept.
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".dpop-key-")  # mkstemp creates 0600
    except OSError as exc:
        raise CommandError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise CommandError(f"cannot write {path!r}: {exc.strerror or exc}") from None


def _keygen(args: argparse.Namespace) -> None:
    key = DPoPKey.generate(args.alg, rsa_bits=args.rsa_bits)
    text = json.dumps(key.to_jwk(private=True), indent=2) + "\n"
    if args.out and args.out != "-":
        _write_private(args.out, text, args.force)
        print(key.thumbprint)
    else:
        sys.stdout.write(text)
        print(f"thumbprint: {key.thumbprint}", file=sys.stderr)


def _proof(args: argparse.Namespace) -> None:
    key = _load(args)
    token = args.token
    if args.token_file is not None:
        token = _read_text(args.token_file, "token file").strip()
    print(create_proof(key, args.method, args.url, access_token=token, nonce=args.nonce))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0, or 2 on any error)."""
    args = _parser().parse_args(argv)  # argparse itself exits with 2 on a usage error
    try:
        if args.command == "keygen":
            _keygen(args)
        elif args.command == "thumbprint":
            print(_load(args).thumbprint)
        elif args.command == "public-jwk":
            print(json.dumps(_load(args).to_jwk(private=False)))
        else:
            _proof(args)
    except (CommandError, DPoPClientError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
