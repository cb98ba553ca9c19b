"""Kalshi request signing: RSA-PSS with SHA-256 over timestamp + METHOD + path.

As docs.kalshi.com/getting_started/quick_start_authenticated_requests states:
the message is the millisecond timestamp, the upper-case HTTP method and the
request path *without* its query string (e.g. `1703123456789GET/trade-api/v2/portfolio/balance`),
signed with PSS (MGF1-SHA256, salt length = digest length) and sent base64-encoded
in three headers: KALSHI-ACCESS-KEY, KALSHI-ACCESS-SIGNATURE, KALSHI-ACCESS-TIMESTAMP.
The websocket handshake is signed the same way over `GET/trade-api/ws/v2`.

The private key object lives only inside `KalshiSigner`; its repr, str and the
structlog event dict never show it (tests/unit/kalshi/test_auth.py checks).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.kalshi.errors import CredentialsMissing

KEY_ID_ENV = "KALSHI_API_KEY_ID"
KEY_PATH_ENV = "KALSHI_PRIVATE_KEY_PATH"

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_NAMES = (HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP)

PSS_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_message(timestamp_ms: int, method: str, path_or_url: str) -> bytes:
    """The exact bytes Kalshi verifies: query string and host dropped, method upper-cased."""
    path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url.split("?", 1)[0]
    if not path.startswith("/"):
        raise ValueError(f"signing needs an absolute path, got {path_or_url!r}")
    return f"{int(timestamp_ms)}{method.upper()}{path}".encode()


@dataclass(frozen=True)
class KalshiSigner:
    """Holds the API key id and the RSA private key; signs requests and nothing else."""

    key_id: str
    _private_key: rsa.RSAPrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.key_id:
            raise CredentialsMissing(f"Kalshi API key id is empty (set {KEY_ID_ENV})")
        if not isinstance(self._private_key, rsa.RSAPrivateKey):
            raise CredentialsMissing("Kalshi private key is not an RSA private key")

    def __repr__(self) -> str:
        return f"KalshiSigner(key_id={self.key_id!r}, private_key=<redacted>)"

    __str__ = __repr__

    def __getstate__(self) -> None:
        raise TypeError("KalshiSigner holds a private key and is not picklable")

    def sign(self, timestamp_ms: int, method: str, path_or_url: str) -> str:
        """Base64 RSA-PSS-SHA256 signature of the request."""
        sig = self._private_key.sign(signing_message(timestamp_ms, method, path_or_url), PSS_PADDING, hashes.SHA256())
        return base64.b64encode(sig).decode("ascii")

    def headers(self, timestamp_ms: int, method: str, path_or_url: str) -> dict[str, str]:
        """The three KALSHI-ACCESS-* headers for one request at `timestamp_ms`."""
        return {
            HEADER_KEY: self.key_id,
            HEADER_SIGNATURE: self.sign(timestamp_ms, method, path_or_url),
            HEADER_TIMESTAMP: str(int(timestamp_ms)),
        }

    def public_key_pem(self) -> bytes:
        """The matching public key (what Kalshi stores), for verification in tests and tools."""
        return self._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_pem(cls, key_id: str, pem: bytes) -> KalshiSigner:
        """Load a PKCS#1 or PKCS#8 PEM key (Kalshi hands out `-----BEGIN RSA PRIVATE KEY-----`)."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            # the loader's message never contains key material, but do not chain it either
            raise CredentialsMissing(f"Kalshi private key could not be loaded: {type(exc).__name__}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CredentialsMissing("Kalshi private key is not an RSA key")
        return cls(key_id, key)

    @classmethod
    def from_file(cls, key_id: str, path: str | Path) -> KalshiSigner:
        p = Path(path)
        if not p.is_file():
            raise CredentialsMissing(f"Kalshi private key file {str(p)!r} does not exist (see {KEY_PATH_ENV})")
        return cls.from_pem(key_id, p.read_bytes())


def signer_from_env(env: dict[str, str] | None = None) -> KalshiSigner:
    """The signer named by KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH, or `CredentialsMissing`."""
    source = os.environ if env is None else env
    key_id = source.get(KEY_ID_ENV, "").strip()
    key_path = source.get(KEY_PATH_ENV, "").strip()
    missing = [name for name, value in ((KEY_ID_ENV, key_id), (KEY_PATH_ENV, key_path)) if not value]
    if missing:
        raise CredentialsMissing(
            "Kalshi credentials are not configured: set " + " and ".join(missing)
            + " (key id, and the path of the RSA private key PEM file)"
        )
    return KalshiSigner.from_file(key_id, key_path)


def verify(public_key_pem: bytes, signature_b64: str, timestamp_ms: int, method: str, path_or_url: str) -> bool:
    """Check a signature as Kalshi does; used by the simulator and the tests."""
    from cryptography.exceptions import InvalidSignature

    public_key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    try:
        public_key.verify(
            base64.b64decode(signature_b64), signing_message(timestamp_ms, method, path_or_url), PSS_PADDING, hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True
