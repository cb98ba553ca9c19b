"""Order signing for the CLOB V2 exchange (live since 2026-04-28), with eth-account primitives.

Why not the maintained client: py-clob-client (V1) signs the pre-2026-04-28
order struct that production no longer accepts; py-clob-client-v2 1.2.1
installs, but it is marked deprecated, pulls `poly_eip712_structs` (which
declares pytest as a runtime dependency) and the V1 order utils, and its client
is synchronous and defaults a missing fee rate to 0. Its EOA signing is exactly
`encode_typed_data(full_message=…)` + `Account.sign_message`, which is what we
do here; the known-answer test pins our signature to the one that library
produces for the same key and order.

The V2 typed data (docs.polymarket.com/v2-migration): domain
{name "Polymarket CTF Exchange", version "2", chainId, verifyingContract} and
Order(uint256 salt, address maker, address signer, uint256 tokenId,
uint256 makerAmount, uint256 takerAmount, uint8 side, uint8 signatureType,
uint256 timestamp, bytes32 metadata, bytes32 builder). Fees are no longer in
the signed order; `expiration` travels outside the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

POLYGON_CHAIN_ID = 137
DOMAIN_NAME = "Polymarket CTF Exchange"
DOMAIN_VERSION = "2"
# V2 exchange contracts (docs.polymarket.com/v2-migration, "Contract addresses")
CTF_EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_CTF_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
ZERO_BYTES32 = "0x" + "00" * 32
MICROS = 1_000_000

ORDER_FIELDS = [
    {"name": "salt", "type": "uint256"},
    {"name": "maker", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "side", "type": "uint8"},
    {"name": "signatureType", "type": "uint8"},
    {"name": "timestamp", "type": "uint256"},
    {"name": "metadata", "type": "bytes32"},
    {"name": "builder", "type": "bytes32"},
]
DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


class OrderSide(IntEnum):
    BUY = 0
    SELL = 1


class SignatureType(IntEnum):
    EOA = 0
    POLY_PROXY = 1
    POLY_GNOSIS_SAFE = 2


def exchange_for(neg_risk: bool) -> str:
    """Negative-risk markets settle on their own exchange contract; signing for the other fails."""
    return NEG_RISK_CTF_EXCHANGE_V2 if neg_risk else CTF_EXCHANGE_V2


@dataclass(frozen=True)
class UnsignedOrder:
    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int  # 6-decimal units of what the maker gives
    taker_amount: int  # 6-decimal units of what the maker receives
    side: OrderSide
    signature_type: SignatureType
    timestamp_ms: int
    metadata: str = ZERO_BYTES32
    builder: str = ZERO_BYTES32
    expiration: int = 0  # unix seconds for GTD, 0 otherwise; not signed in V2


@dataclass(frozen=True)
class SignedOrder:
    order: UnsignedOrder
    exchange: str
    chain_id: int
    signature: str
    order_hash: str

    def wire(self) -> dict[str, Any]:
        """The `order` object of POST /order (py-clob-client-v2 order_to_json_v2 field layout)."""
        o = self.order
        return {
            "salt": o.salt,
            "maker": o.maker,
            "signer": o.signer,
            "tokenId": str(o.token_id),
            "makerAmount": str(o.maker_amount),
            "takerAmount": str(o.taker_amount),
            "side": o.side.name,
            "expiration": str(o.expiration),
            "signatureType": int(o.signature_type),
            "timestamp": str(o.timestamp_ms),
            "metadata": o.metadata,
            "builder": o.builder,
            "signature": self.signature,
        }


def limit_amounts(side: OrderSide, price_micros: int, size: float, tick_micros: int) -> tuple[int, int]:
    """(makerAmount, takerAmount) of a limit order, exact in integer micro-units.

    Shares are rounded down to 0.01 as the CLOB requires; the price must sit on
    the market's tick. BUY gives dollars for shares, SELL gives shares for dollars.
    """
    if not 0 < price_micros < MICROS or price_micros % tick_micros:
        raise ValueError(f"price {price_micros} is not on the {tick_micros} tick inside (0, 1)")
    share_micros = int(round(size * 100, 6)) * 10_000  # int() floors: 0.01-share units
    if share_micros <= 0:
        raise ValueError(f"size {size} rounds down to zero shares")
    dollar_micros, rem = divmod(share_micros * price_micros, MICROS)
    if rem:
        raise ValueError(f"size {size} at price {price_micros} is not a whole micro-dollar amount")
    if side is OrderSide.BUY:
        return dollar_micros, share_micros
    return share_micros, dollar_micros


def typed_data(order: UnsignedOrder, exchange: str, chain_id: int) -> dict[str, Any]:
    return {
        "primaryType": "Order",
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Order": ORDER_FIELDS},
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id, "verifyingContract": exchange},
        "message": {
            "salt": order.salt,
            "maker": order.maker,
            "signer": order.signer,
            "tokenId": order.token_id,
            "makerAmount": order.maker_amount,
            "takerAmount": order.taker_amount,
            "side": int(order.side),
            "signatureType": int(order.signature_type),
            "timestamp": order.timestamp_ms,
            "metadata": bytes.fromhex(order.metadata[2:]),
            "builder": bytes.fromhex(order.builder[2:]),
        },
    }


def sign_order(order: UnsignedOrder, private_key: str, *, neg_risk: bool,
               chain_id: int = POLYGON_CHAIN_ID) -> SignedOrder:
    """EIP-712 signature of the order for the exchange its market settles on."""
    exchange = exchange_for(neg_risk)
    message = encode_typed_data(full_message=typed_data(order, exchange, chain_id))
    signed = Account.sign_message(message, private_key=private_key)
    return SignedOrder(
        order=order,
        exchange=exchange,
        chain_id=chain_id,
        signature="0x" + signed.signature.hex().removeprefix("0x"),
        order_hash="0x" + _hash_eip191_message(message).hex().removeprefix("0x"),
    )


def recover_signer(signed: SignedOrder) -> str:
    """The address that produced the signature, for verification."""
    message = encode_typed_data(full_message=typed_data(signed.order, signed.exchange, signed.chain_id))
    return str(Account.recover_message(message, signature=signed.signature))


def hmac_signature(secret_b64: str, timestamp: str, method: str, path: str, body: str | None = None) -> str:
    """POLY_SIGNATURE of an L2-authenticated request: urlsafe-base64 HMAC-SHA256 of ts+method+path+body."""
    message = f"{timestamp}{method}{path}{body or ''}"
    digest = hmac.new(base64.urlsafe_b64decode(secret_b64), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()
