"""The example authorization server's signing key: generated once, kept in a file beside the DB.

For the demo only: a production server reads its key from a secret store, never from the disk
of its web root.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def demo_rsa_private_key(path: str) -> str:
    """The PEM in ``path``; a new 2048-bit RSA key is written there (mode 0600) when it is missing."""
    file = Path(path)
    if not file.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        partial = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        try:
            os.link(partial, file)  # atomic; a concurrent start-up's key wins if it was first
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return file.read_text()
