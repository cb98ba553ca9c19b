"""Signing verifies with the public key exactly as Kalshi documents it; keys never leak."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.kalshi.auth import HEADER_NAMES, KalshiSigner, signer_from_env, signing_message, verify
from connectors.kalshi.errors import CredentialsMissing

TS = 1703123456789  # the example of docs.kalshi.com quick_start_authenticated_requests


def _verify_with_cryptography(key: rsa.RSAPrivateKey, signature_b64: str, message: bytes) -> None:
    """Kalshi's side of the check, written against `cryptography` directly (raises when wrong)."""
    key.public_key().verify(
        base64.b64decode(signature_b64),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )


def test_message_is_timestamp_method_path_without_query() -> None:
    assert signing_message(TS, "get", "/trade-api/v2/portfolio/balance") == b"1703123456789GET/trade-api/v2/portfolio/balance"
    assert signing_message(TS, "GET", "/trade-api/v2/portfolio/orders?limit=5") == b"1703123456789GET/trade-api/v2/portfolio/orders"
    assert (
        signing_message(TS, "DELETE", "https://api.elections.kalshi.com/trade-api/v2/portfolio/orders/abc?x=1")
        == b"1703123456789DELETE/trade-api/v2/portfolio/orders/abc"
    )
    with pytest.raises(ValueError):
        signing_message(TS, "GET", "portfolio/balance")


def test_headers_match_kalshi_documentation(rsa_key: rsa.RSAPrivateKey, key_file: Path) -> None:
    signer = signer_from_env({"KALSHI_API_KEY_ID": "a952bcbe-ec3b-4b5b-b8f9-11dae589608c", "KALSHI_PRIVATE_KEY_PATH": str(key_file)})
    headers = signer.headers(TS, "GET", "/trade-api/v2/portfolio/orders?limit=5")
    assert set(headers) == set(HEADER_NAMES) == {"KALSHI-ACCESS-KEY", "KALSHI-ACCESS-SIGNATURE", "KALSHI-ACCESS-TIMESTAMP"}
    assert headers["KALSHI-ACCESS-KEY"] == "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1703123456789"
    _verify_with_cryptography(rsa_key, headers["KALSHI-ACCESS-SIGNATURE"], b"1703123456789GET/trade-api/v2/portfolio/orders")
    with pytest.raises(InvalidSignature):
        _verify_with_cryptography(rsa_key, headers["KALSHI-ACCESS-SIGNATURE"], b"1703123456789GET/trade-api/v2/portfolio/orders?limit=5")
    assert len(base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"])) == 256  # RSA-2048


def test_pss_signatures_are_randomized_and_all_verify(key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("k", key_pem)
    a = signer.sign(TS, "POST", "/trade-api/v2/portfolio/orders")
    b = signer.sign(TS, "POST", "/trade-api/v2/portfolio/orders")
    assert a != b
    pub = signer.public_key_pem()
    assert verify(pub, a, TS, "POST", "/trade-api/v2/portfolio/orders")
    assert verify(pub, b, TS, "POST", "/trade-api/v2/portfolio/orders")
    assert not verify(pub, a, TS + 1, "POST", "/trade-api/v2/portfolio/orders")
    assert not verify(pub, a, TS, "GET", "/trade-api/v2/portfolio/orders")


def test_websocket_handshake_is_signed_over_its_path(rsa_key: rsa.RSAPrivateKey, key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("k", key_pem)
    h = signer.headers(TS, "GET", "wss://api.elections.kalshi.com/trade-api/ws/v2")
    _verify_with_cryptography(rsa_key, h["KALSHI-ACCESS-SIGNATURE"], b"1703123456789GET/trade-api/ws/v2")


def test_missing_credentials_are_named(tmp_path: Path) -> None:
    with pytest.raises(CredentialsMissing, match="KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH"):
        signer_from_env({})
    with pytest.raises(CredentialsMissing, match="KALSHI_PRIVATE_KEY_PATH"):
        signer_from_env({"KALSHI_API_KEY_ID": "k"})
    with pytest.raises(CredentialsMissing, match="does not exist"):
        signer_from_env({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "nope.key")})
    junk = tmp_path / "junk.key"
    junk.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(CredentialsMissing, match="could not be loaded") as info:
        signer_from_env({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(junk)})
    assert info.value.__cause__ is None and "not a key" not in str(info.value)


def _secret_fragments(rsa_key: rsa.RSAPrivateKey, key_pem: bytes) -> list[str]:
    numbers = rsa_key.private_numbers()
    body_lines = [ln for ln in key_pem.decode().splitlines() if ln and not ln.startswith("-----")]
    return [str(numbers.d)[:40], format(numbers.d, "x")[:40], str(numbers.p)[:40], *body_lines[1:4]]


def test_key_material_never_in_repr_str_or_pickle(rsa_key: rsa.RSAPrivateKey, key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("key-id-1", key_pem)
    shown = repr(signer) + str(signer) + f"{signer}" + repr([signer]) + repr({"s": signer})
    assert "key-id-1" in shown and "<redacted>" in shown
    for fragment in _secret_fragments(rsa_key, key_pem):
        assert fragment not in shown
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(signer)
