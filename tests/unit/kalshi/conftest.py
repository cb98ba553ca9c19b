"""Shared helpers for the Kalshi unit tests: fixture loading and a throwaway RSA key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kalshi"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def ndjson(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def key_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 PEM, the `BEGIN RSA PRIVATE KEY` form Kalshi hands out."""
    return rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


@pytest.fixture()
def key_file(tmp_path: Path, key_pem: bytes) -> Path:
    path = tmp_path / "kalshi.key"
    path.write_bytes(key_pem)
    return path
