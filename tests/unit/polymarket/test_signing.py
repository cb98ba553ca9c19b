"""Known-answer tests: a fixed, publicly known dev key (Hardhat account #0) and a fixed order.

The expected signatures were produced by Polymarket's own py-clob-client-v2 1.2.1
(ExchangeOrderBuilderV2.build_signed_order, salt 479249096354, chain 137) for the
same order; the HMAC vector is the one in Polymarket's py-clob-client tests/signing/test_hmac.py.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from connectors.polymarket.signing import (
    CTF_EXCHANGE_V2,
    NEG_RISK_CTF_EXCHANGE_V2,
    OrderSide,
    SignatureType,
    UnsignedOrder,
    hmac_signature,
    limit_amounts,
    recover_signer,
    sign_order,
)

from .conftest import ETH15_YES

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ORDER = UnsignedOrder(
    salt=479249096354, maker=ADDRESS, signer=ADDRESS, token_id=int(ETH15_YES), maker_amount=5_100_000,
    taker_amount=10_000_000, side=OrderSide.BUY, signature_type=SignatureType.EOA, timestamp_ms=1767554656215,
)


def test_known_answer_signature_standard_exchange() -> None:
    signed = sign_order(ORDER, KEY, neg_risk=False)
    assert signed.exchange == CTF_EXCHANGE_V2
    assert signed.signature == (
        "0xe798361ff8374cf3bd043a876facf73eef7303c3b7550e1a38d5b9a185e92f79"
        "40cda4bdac5bb75115b064eeed4994d1b35df754444cc87f86f1e861a1fb07fc1b"
    )
    assert signed.order_hash == "0x6855414ca285ebf5d4ac9d3367925896aac42612fc1793473fd4de6cc2891cb8"
    assert recover_signer(signed) == ADDRESS == Account.from_key(KEY).address


def test_known_answer_signature_neg_risk_exchange() -> None:
    signed = sign_order(ORDER, KEY, neg_risk=True)
    assert signed.exchange == NEG_RISK_CTF_EXCHANGE_V2
    assert signed.signature == (
        "0xbcf79144f8065ebe41bd418093b8ba263aeaf14f46761ac606cd1ed4e96cae96"
        "6015c0c08a6ab3d22ea3680c6b189254ae7df34cddf7c6638831281a2b611ebb1b"
    )
    assert recover_signer(signed) == ADDRESS


def test_changing_any_signed_field_changes_the_signer() -> None:
    signed = sign_order(ORDER, KEY, neg_risk=False)
    tampered = signed.__class__(**{**signed.__dict__, "order": ORDER.__class__(**{**ORDER.__dict__, "taker_amount": 10_000_001})})
    assert recover_signer(tampered) != ADDRESS


def test_hmac_known_answer() -> None:
    sig = hmac_signature("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1000000", "test-sign", "/orders", '{"hash": "0x123"}')
    assert sig == "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="


def test_limit_amounts_exact() -> None:
    assert limit_amounts(OrderSide.BUY, 510_000, 10, 10_000) == (5_100_000, 10_000_000)
    assert limit_amounts(OrderSide.SELL, 512_000, 10.019, 1_000) == (10_010_000, 5_125_120)
    with pytest.raises(ValueError, match="tick"):
        limit_amounts(OrderSide.BUY, 505_000, 10, 10_000)
    with pytest.raises(ValueError, match="zero shares"):
        limit_amounts(OrderSide.BUY, 510_000, 0.004, 10_000)
