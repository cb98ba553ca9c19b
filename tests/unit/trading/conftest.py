"""The Kalshi unit tests' throwaway RSA key and key file, for the live order path tests here."""

from tests.unit.kalshi.conftest import key_file, key_pem, rsa_key  # noqa: F401 - fixtures
