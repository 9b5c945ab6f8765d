//! Hyperliquid L1 action signing (`POST /exchange`): typed actions, their
//! canonical msgpack encoding, the action hash (`connectionId`), the EIP-712
//! "Agent" digest, and secp256k1 signing and signer recovery.
//!
//! The venue reads an action into typed structures and hashes them in schema
//! order, so the key order of the msgpack we hash must be the canonical one,
//! not whatever order a JSON object happened to have. Here the struct field
//! order *is* the canonical order, and `rmp_serde::to_vec_named` writes structs
//! as maps in field order with the shortest int encodings and msgpack `str`
//! for strings, as Python's `msgpack.packb` does.
//!
//! Steps (one function each):
//! 1. [`Action::to_msgpack`] — canonical msgpack of the action;
//! 2. [`action_hash`] — keccak256(msgpack ‖ nonce BE ‖ vault tag ‖ expiry);
//! 3. [`l1_signing_digest`] — EIP-712 digest of `Agent{source, connectionId}`
//!    in the `Exchange` domain (chain id 1337);
//! 4. [`sign_digest`] — recoverable ECDSA, `v = 27 + recovery id`.
//!
//! [`recover_signer`] undoes step 4, for a fake exchange. All cryptography is
//! from `k256` (ECDSA) and `sha3` (keccak-256); the EIP-712 encoding here is
//! only byte concatenation and hashing.

use std::cmp::max;
use std::sync::atomic::{AtomicU64, Ordering};

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

/// A 20-byte Ethereum address.
pub type Address = [u8; 20];

/// Most decimals `float_to_wire` keeps; more would be rounded by the SDK.
pub const MAX_WIRE_DECIMALS: u32 = 8;

/// EIP-712 domain of L1 actions. `chainId` 1337 is fixed for L1 actions on
/// both mainnet and testnet; the network is told apart by `source`.
const DOMAIN_NAME: &str = "Exchange";
const DOMAIN_VERSION: &str = "1";
const DOMAIN_CHAIN_ID: u64 = 1337;
const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
const AGENT_TYPE: &str = "Agent(string source,bytes32 connectionId)";

/// Errors from encoding, signing and recovery.
#[derive(Debug, thiserror::Error)]
pub enum HlSignError {
    #[error("msgpack encoding failed: {0}")]
    Msgpack(#[from] rmp_serde::encode::Error),
    #[error("{value} needs more than {MAX_WIRE_DECIMALS} decimals on the wire")]
    WireRounding { value: Decimal },
    #[error("invalid cloid {0:?}: expected 0x followed by 32 hex digits")]
    InvalidCloid(String),
    #[error("invalid hex {what}: {value:?}")]
    InvalidHex { what: &'static str, value: String },
    #[error("invalid private key")]
    InvalidKey,
    #[error("ECDSA signing failed")]
    SigningFailed,
    #[error("v must be 27 or 28, got {0}")]
    InvalidV(u8),
    #[error("r or s is not a valid signature scalar")]
    InvalidSignature,
    #[error("no public key recovers from this signature and digest")]
    RecoveryFailed,
}

/// Which chain an action is for; it selects the EIP-712 `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Mainnet,
    Testnet,
}

impl Network {
    /// `"a"` for mainnet, `"b"` for testnet.
    pub fn source(self) -> &'static str {
        match self {
            Network::Mainnet => "a",
            Network::Testnet => "b",
        }
    }
}

/// Time in force of a limit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tif {
    /// Add liquidity only (post-only).
    Alo,
    /// Immediate or cancel.
    Ioc,
    /// Good till cancelled.
    Gtc,
}

/// Whether a trigger order is a take-profit or a stop-loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tpsl {
    Tp,
    Sl,
}

/// `{"tif": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitWire {
    pub tif: Tif,
}

/// `{"isMarket", "triggerPx", "tpsl"}`, in that (canonical) order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerWire {
    #[serde(rename = "isMarket")]
    pub is_market: bool,
    #[serde(rename = "triggerPx")]
    pub trigger_px: String,
    pub tpsl: Tpsl,
}

/// The order type `t`: `{"limit":{...}}` or `{"trigger":{...}}` (serde's
/// externally tagged enum, which rmp-serde writes as a one-entry map).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderTypeWire {
    #[serde(rename = "limit")]
    Limit(LimitWire),
    #[serde(rename = "trigger")]
    Trigger(TriggerWire),
}

impl OrderTypeWire {
    /// A limit order with `tif`.
    pub fn limit(tif: Tif) -> Self {
        OrderTypeWire::Limit(LimitWire { tif })
    }

    /// A trigger order; `trigger_px` is converted with [`decimal_to_wire`].
    pub fn trigger(is_market: bool, trigger_px: Decimal, tpsl: Tpsl) -> Result<Self, HlSignError> {
        Ok(OrderTypeWire::Trigger(TriggerWire {
            is_market,
            trigger_px: decimal_to_wire(trigger_px)?,
            tpsl,
        }))
    }
}

/// A client order id: `0x` + 32 lowercase hex digits (16 bytes).
///
/// Stored lowercase: our own ids are always lowercase (as the SDK's
/// `from_int` makes them), and a fake exchange re-encoding a received id must
/// hash the same bytes for equal ids. Whether the venue itself lowercases an
/// upper-case cloid before hashing is not documented.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cloid(String);

impl Cloid {
    /// The cloid for a 128-bit number, zero-padded.
    pub fn from_u128(value: u128) -> Self {
        Cloid(format!("0x{value:032x}"))
    }

    /// Parses `0x` + 32 hex digits (either case).
    pub fn parse(text: &str) -> Result<Self, HlSignError> {
        let digits = text
            .strip_prefix("0x")
            .filter(|d| d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| HlSignError::InvalidCloid(text.to_owned()))?;
        Ok(Cloid(format!("0x{}", digits.to_ascii_lowercase())))
    }

    /// The wire form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Cloid {
    type Error = HlSignError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Cloid::parse(&value)
    }
}

impl From<Cloid> for String {
    fn from(value: Cloid) -> Self {
        value.0
    }
}

/// One order: keys `a, b, p, s, r, t[, c]` in canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderWire {
    /// Asset index in `meta.universe` (differs between mainnet and testnet).
    pub a: u32,
    /// Buy?
    pub b: bool,
    /// Limit price, normalized decimal string.
    pub p: String,
    /// Size, normalized decimal string.
    pub s: String,
    /// Reduce-only.
    pub r: bool,
    /// Order type.
    pub t: OrderTypeWire,
    /// Optional cloid; the key is left out entirely when `None`, since a
    /// `nil` value would change the hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<Cloid>,
}

impl OrderWire {
    /// Builds an order from decimals, normalizing `p` and `s` for the wire.
    pub fn new(
        asset: u32,
        is_buy: bool,
        limit_px: Decimal,
        size: Decimal,
        reduce_only: bool,
        order_type: OrderTypeWire,
        cloid: Option<Cloid>,
    ) -> Result<Self, HlSignError> {
        Ok(OrderWire {
            a: asset,
            b: is_buy,
            p: decimal_to_wire(limit_px)?,
            s: decimal_to_wire(size)?,
            r: reduce_only,
            t: order_type,
            c: cloid,
        })
    }
}

/// How the orders of one action relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grouping {
    /// Plain orders.
    #[serde(rename = "na")]
    Na,
    /// Entry plus fixed-size TP/SL.
    #[serde(rename = "normalTpsl")]
    NormalTpsl,
    /// TP/SL on the whole position.
    #[serde(rename = "positionTpsl")]
    PositionTpsl,
}

/// The body of an `order` action (after `type`): `orders, grouping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAction {
    pub orders: Vec<OrderWire>,
    pub grouping: Grouping,
}

/// `{"a": asset, "o": oid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelWire {
    pub a: u32,
    pub o: u64,
}

/// The body of a `cancel` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelAction {
    pub cancels: Vec<CancelWire>,
}

/// `{"asset": asset, "cloid": "0x..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelByCloidWire {
    pub asset: u32,
    pub cloid: Cloid,
}

/// The body of a `cancelByCloid` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelByCloidAction {
    pub cancels: Vec<CancelByCloidWire>,
}

/// An L1 action. Serde's internal tagging writes `type` first and then the
/// variant's fields in order, which is the canonical `type, orders, grouping`
/// (and `type, cancels`), for both msgpack and JSON. Deserializing from JSON
/// ignores unknown keys, as the venue does when it hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Action {
    #[serde(rename = "order")]
    Order(OrderAction),
    #[serde(rename = "cancel")]
    Cancel(CancelAction),
    #[serde(rename = "cancelByCloid")]
    CancelByCloid(CancelByCloidAction),
}

impl Action {
    /// The canonical msgpack bytes that are hashed.
    pub fn to_msgpack(&self) -> Result<Vec<u8>, HlSignError> {
        Ok(rmp_serde::to_vec_named(self)?)
    }
}

impl From<OrderAction> for Action {
    fn from(value: OrderAction) -> Self {
        Action::Order(value)
    }
}

impl From<CancelAction> for Action {
    fn from(value: CancelAction) -> Self {
        Action::Cancel(value)
    }
}

impl From<CancelByCloidAction> for Action {
    fn from(value: CancelByCloidAction) -> Self {
        Action::CancelByCloid(value)
    }
}

/// The SDK's `float_to_wire` on a `Decimal`: the shortest plain decimal
/// string, no trailing zeros, no exponent (`100`, `0.0147`, `1670.1`), `-0`
/// as `0`. A trailing zero would change the hash, so this is the only way
/// numbers should reach the wire. Values needing more than 8 decimals are
/// refused, as the SDK refuses to round them.
pub fn decimal_to_wire(value: Decimal) -> Result<String, HlSignError> {
    // `normalize` strips trailing zeros and turns -0 into 0; Decimal has no
    // negative scale, so `100` stays `100` (Python would print `1E+2`).
    let normalized = value.normalize();
    if normalized.scale() > MAX_WIRE_DECIMALS {
        return Err(HlSignError::WireRounding { value });
    }
    Ok(normalized.to_string())
}

/// keccak-256 of `data`.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// The bytes hashed into the `connectionId`: msgpack, nonce (8 bytes BE),
/// `0x00` or `0x01` + vault address, then `0x00` + expiry (8 bytes BE) only
/// when `expires_after` is set.
fn connection_preimage(
    action_msgpack: &[u8],
    nonce: u64,
    vault: Option<Address>,
    expires_after: Option<u64>,
) -> Vec<u8> {
    let mut data = Vec::with_capacity(action_msgpack.len() + 8 + 21 + 9);
    data.extend_from_slice(action_msgpack);
    data.extend_from_slice(&nonce.to_be_bytes());
    match vault {
        None => data.push(0x00),
        Some(address) => {
            data.push(0x01);
            data.extend_from_slice(&address);
        }
    }
    if let Some(expires) = expires_after {
        data.push(0x00);
        data.extend_from_slice(&expires.to_be_bytes());
    }
    data
}

/// The action hash (`connectionId`) that the Agent message signs.
pub fn action_hash(
    action_msgpack: &[u8],
    nonce: u64,
    vault: Option<Address>,
    expires_after: Option<u64>,
) -> [u8; 32] {
    keccak256(&connection_preimage(
        action_msgpack,
        nonce,
        vault,
        expires_after,
    ))
}

/// A `uint256` word for a small integer, big-endian.
fn uint256_word(value: u64) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

/// EIP-712 `hashStruct` input helper: concatenates 32-byte words and hashes.
fn hash_words(words: &[[u8; 32]]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    for word in words {
        hasher.update(word);
    }
    hasher.finalize().into()
}

/// EIP-712 domain separator of `{name:"Exchange", version:"1", chainId:1337,
/// verifyingContract:0x0…0}`. Strings are encoded as their keccak hashes, the
/// address as a left-padded word (all zeros here).
pub fn domain_separator() -> [u8; 32] {
    hash_words(&[
        keccak256(DOMAIN_TYPE.as_bytes()),
        keccak256(DOMAIN_NAME.as_bytes()),
        keccak256(DOMAIN_VERSION.as_bytes()),
        uint256_word(DOMAIN_CHAIN_ID),
        [0u8; 32],
    ])
}

/// EIP-712 `hashStruct(Agent{source, connectionId})`.
pub fn agent_struct_hash(source: &str, connection_id: &[u8; 32]) -> [u8; 32] {
    hash_words(&[
        keccak256(AGENT_TYPE.as_bytes()),
        keccak256(source.as_bytes()),
        *connection_id,
    ])
}

/// The 32-byte digest to sign: `keccak256(0x19 0x01 ‖ domainSeparator ‖
/// hashStruct(Agent))`.
pub fn l1_signing_digest(connection_id: &[u8; 32], network: Network) -> [u8; 32] {
    let mut data = Vec::with_capacity(66);
    data.extend_from_slice(&[0x19, 0x01]);
    data.extend_from_slice(&domain_separator());
    data.extend_from_slice(&agent_struct_hash(network.source(), connection_id));
    keccak256(&data)
}

/// An Ethereum-style `{r, s, v}` signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RsvJson", into = "RsvJson")]
pub struct RsvSignature {
    pub r: [u8; 32],
    pub s: [u8; 32],
    /// 27 or 28.
    pub v: u8,
}

/// The JSON form `{"r":"0x…","s":"0x…","v":27}`.
#[derive(Debug, Serialize, Deserialize)]
struct RsvJson {
    r: String,
    s: String,
    v: u8,
}

impl From<RsvSignature> for RsvJson {
    fn from(sig: RsvSignature) -> Self {
        RsvJson {
            r: format!("0x{}", hex::encode(sig.r)),
            s: format!("0x{}", hex::encode(sig.s)),
            v: sig.v,
        }
    }
}

impl TryFrom<RsvJson> for RsvSignature {
    type Error = HlSignError;
    fn try_from(json: RsvJson) -> Result<Self, Self::Error> {
        RsvSignature::from_hex_parts(&json.r, &json.s, json.v)
    }
}

impl RsvSignature {
    /// Parses `r` and `s` as hex with or without `0x`, accepting dropped
    /// leading zeros (the Python SDK's `to_hex` drops them), so they compare
    /// as 32-byte integers.
    pub fn from_hex_parts(r: &str, s: &str, v: u8) -> Result<Self, HlSignError> {
        Ok(RsvSignature {
            r: parse_hex32(r, "r")?,
            s: parse_hex32(s, "s")?,
            v,
        })
    }
}

/// Parses up to 64 hex digits (optional `0x`) into a left-padded 32-byte word.
pub fn parse_hex32(text: &str, what: &'static str) -> Result<[u8; 32], HlSignError> {
    let invalid = || HlSignError::InvalidHex {
        what,
        value: text.to_owned(),
    };
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.is_empty() || digits.len() > 64 {
        return Err(invalid());
    }
    let padded = format!("{digits:0>64}");
    let bytes = hex::decode(padded).map_err(|_| invalid())?;
    bytes.try_into().map_err(|_| invalid())
}

/// Parses a private key given as 64 hex digits (optional `0x`).
pub fn signing_key_from_hex(text: &str) -> Result<SigningKey, HlSignError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|_| HlSignError::InvalidKey)?;
    SigningKey::from_slice(&bytes).map_err(|_| HlSignError::InvalidKey)
}

/// The address of a public key: the last 20 bytes of keccak256 of the
/// uncompressed point without its `0x04` prefix.
pub fn address_of_verifying_key(key: &VerifyingKey) -> Address {
    let point = key.to_encoded_point(false);
    let hash = keccak256(&point.as_bytes()[1..]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    address
}

/// The address that signs with `key`.
pub fn address_of(key: &SigningKey) -> Address {
    address_of_verifying_key(key.verifying_key())
}

/// EIP-55 mixed-case hex (`0x14791697260E4c9A…`): a hex letter is upper case
/// when the matching nibble of keccak256(lowercase hex) is 8 or more.
pub fn to_checksum_address(address: &Address) -> String {
    let lower = hex::encode(address);
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, ch) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i.is_multiple_of(2) { 4 } else { 0 })) & 0x0f;
        if nibble >= 8 {
            out.push(ch.to_ascii_uppercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Parses `0x` + 40 hex digits, in any case (the checksum is not enforced).
pub fn parse_address(text: &str) -> Result<Address, HlSignError> {
    let invalid = || HlSignError::InvalidHex {
        what: "address",
        value: text.to_owned(),
    };
    let digits = text.strip_prefix("0x").ok_or_else(invalid)?;
    let bytes = hex::decode(digits).map_err(|_| invalid())?;
    bytes.try_into().map_err(|_| invalid())
}

/// Signs a 32-byte digest with deterministic (RFC 6979) recoverable ECDSA.
/// k256 returns low-s signatures and adjusts the recovery id to match, as
/// Ethereum requires; `v = 27 + recovery id`.
pub fn sign_digest(key: &SigningKey, digest: &[u8; 32]) -> Result<RsvSignature, HlSignError> {
    let (signature, recovery_id) = key
        .sign_prehash_recoverable(digest)
        .map_err(|_| HlSignError::SigningFailed)?;
    let (r, s) = signature.split_bytes();
    Ok(RsvSignature {
        r: r.into(),
        s: s.into(),
        v: 27 + recovery_id.to_byte(),
    })
}

/// Signs an L1 action end to end: msgpack, action hash, EIP-712 digest, ECDSA.
pub fn sign_l1_action(
    key: &SigningKey,
    action: &Action,
    nonce: u64,
    vault: Option<Address>,
    expires_after: Option<u64>,
    network: Network,
) -> Result<RsvSignature, HlSignError> {
    let digest = l1_action_digest(action, nonce, vault, expires_after, network)?;
    sign_digest(key, &digest)
}

/// The digest an L1 action's signature covers (steps 1-3).
pub fn l1_action_digest(
    action: &Action,
    nonce: u64,
    vault: Option<Address>,
    expires_after: Option<u64>,
    network: Network,
) -> Result<[u8; 32], HlSignError> {
    let connection_id = action_hash(&action.to_msgpack()?, nonce, vault, expires_after);
    Ok(l1_signing_digest(&connection_id, network))
}

/// Recovers the signing address from a digest and `{r, s, v}`.
///
/// A fake exchange uses it to learn who signed; any hashing difference gives a
/// different (unknown) address rather than an error, just as at the venue
/// ("User or API Wallet 0x… does not exist."). High-s signatures are refused by
/// k256's verification step.
pub fn recover_signer(
    digest: &[u8; 32],
    r: &[u8; 32],
    s: &[u8; 32],
    v: u8,
) -> Result<Address, HlSignError> {
    let recovery_byte = v
        .checked_sub(27)
        .filter(|b| *b <= 1)
        .ok_or(HlSignError::InvalidV(v))?;
    let recovery_id = RecoveryId::from_byte(recovery_byte).ok_or(HlSignError::InvalidV(v))?;
    let signature = Signature::from_scalars(*r, *s).map_err(|_| HlSignError::InvalidSignature)?;
    let key = VerifyingKey::recover_from_prehash(digest, &signature, recovery_id)
        .map_err(|_| HlSignError::RecoveryFailed)?;
    Ok(address_of_verifying_key(&key))
}

/// Recovers the signer of a whole L1 request, for a fake exchange.
pub fn recover_l1_signer(
    action: &Action,
    nonce: u64,
    vault: Option<Address>,
    expires_after: Option<u64>,
    network: Network,
    signature: &RsvSignature,
) -> Result<Address, HlSignError> {
    let digest = l1_action_digest(action, nonce, vault, expires_after, network)?;
    recover_signer(&digest, &signature.r, &signature.s, signature.v)
}

/// The JSON body of `POST /exchange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRequest {
    pub action: Action,
    pub nonce: u64,
    pub signature: RsvSignature,
    /// `0x` + 40 hex of the vault or sub-account, else `null`.
    #[serde(rename = "vaultAddress")]
    pub vault_address: Option<String>,
    /// Ms timestamp after which the venue rejects the action, else `null`.
    #[serde(rename = "expiresAfter")]
    pub expires_after: Option<u64>,
}

/// Hands out nonces `max(now_ms, last + 1)`, atomically.
///
/// The chain keeps the 100 highest nonces per signer and refuses repeats, so
/// two requests signed in the same millisecond (or after the clock stepped
/// back) must still get distinct, increasing nonces. Use one instance per
/// signer per process.
#[derive(Debug, Default)]
pub struct NonceSource {
    last: AtomicU64,
}

impl NonceSource {
    /// A source that has handed out nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A source whose next nonce is above `last` (e.g. restored on restart).
    pub fn starting_after(last: u64) -> Self {
        Self {
            last: AtomicU64::new(last),
        }
    }

    /// The next nonce given the clock reads `now_ms`.
    pub fn next(&self, now_ms: u64) -> u64 {
        // Relaxed is enough: a read-modify-write on one atomic is totally
        // ordered, so every caller sees a distinct predecessor; no other
        // memory is published through this value.
        let previous = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(max(now_ms, last.saturating_add(1)))
            })
            .unwrap_or_else(|current| current);
        max(now_ms, previous.saturating_add(1))
    }

    /// The last nonce handed out (0 if none).
    pub fn last(&self) -> u64 {
        self.last.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const KEY: &str = "0x0123456789012345678901234567890123456789012345678901234567890123";
    const ADDRESS: &str = "0x14791697260E4c9A71f18484C9f997B308e59325";

    fn key() -> SigningKey {
        signing_key_from_hex(KEY).unwrap()
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// The §11.2 test case: asset 1, buy, p 100, s 100, not reduce-only,
    /// grouping na.
    fn vector_action(t: OrderTypeWire, c: Option<Cloid>) -> Action {
        let order = OrderWire::new(1, true, d("100"), d("100"), false, t, c).unwrap();
        Action::Order(OrderAction {
            orders: vec![order],
            grouping: Grouping::Na,
        })
    }

    fn gtc() -> OrderTypeWire {
        OrderTypeWire::limit(Tif::Gtc)
    }

    fn sl_trigger() -> OrderTypeWire {
        OrderTypeWire::trigger(true, d("103"), Tpsl::Sl).unwrap()
    }

    fn cloid1() -> Option<Cloid> {
        Some(Cloid::parse("0x00000000000000000000000000000001").unwrap())
    }

    /// Signs with nonce 0, no vault, and compares r and s as 32-byte values.
    fn assert_vector(action: Action, network: Network, r: &str, s: &str, v: u8) {
        let sig = sign_l1_action(&key(), &action, 0, None, None, network).unwrap();
        let expected = RsvSignature::from_hex_parts(r, s, v).unwrap();
        assert_eq!(sig, expected, "{network:?} {action:?}");
    }

    #[test]
    fn address_of_test_key() {
        let address = address_of(&key());
        assert_eq!(to_checksum_address(&address), ADDRESS);
        assert_eq!(parse_address(ADDRESS).unwrap(), address);
    }

    #[test]
    fn vector_gtc_mainnet() {
        assert_vector(
            vector_action(gtc(), None),
            Network::Mainnet,
            "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
            "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e",
            28,
        );
    }

    #[test]
    fn vector_gtc_testnet() {
        assert_vector(
            vector_action(gtc(), None),
            Network::Testnet,
            "0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
            "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5",
            27,
        );
    }

    #[test]
    fn vector_gtc_cloid_mainnet() {
        // r has 63 digits in the published vector (leading zero dropped).
        assert_vector(
            vector_action(gtc(), cloid1()),
            Network::Mainnet,
            "0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
            "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da",
            27,
        );
    }

    #[test]
    fn vector_gtc_cloid_testnet() {
        assert_vector(
            vector_action(gtc(), cloid1()),
            Network::Testnet,
            "0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
            "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988",
            28,
        );
    }

    #[test]
    fn vector_trigger_mainnet() {
        assert_vector(
            vector_action(sl_trigger(), None),
            Network::Mainnet,
            "0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9",
            "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405",
            27,
        );
    }

    #[test]
    fn vector_trigger_testnet() {
        assert_vector(
            vector_action(sl_trigger(), None),
            Network::Testnet,
            "0x971c554d917c44e0e1b6cc45d8f9404f32172a9d3b3566262347d0302896a2e4",
            "0x206257b104788f80450f8e786c329daa589aa0b32ba96948201ae556d5637eac",
            28,
        );
    }

    #[test]
    fn gtc_intermediate_msgpack_and_connection_id() {
        let msgpack = vector_action(gtc(), None).to_msgpack().unwrap();
        assert_eq!(
            hex::encode(&msgpack),
            "83a474797065a56f72646572a66f72646572739186a16101a162c3a170a3313030a173a3313030a172c2a17481a56c696d697481a3746966a3477463a867726f7570696e67a26e61"
        );
        let preimage = connection_preimage(&msgpack, 0, None, None);
        assert_eq!(
            hex::encode(&preimage[msgpack.len()..]),
            "000000000000000000"
        );
        assert_eq!(
            hex::encode(action_hash(&msgpack, 0, None, None)),
            "884f2c32bb6dbdd65f6033e32fb28c0cb6f5b345db0f6471fd3366d85c9252c1"
        );
    }

    #[test]
    fn sdk_connection_id_vector() {
        let order = OrderWire::new(
            4,
            true,
            d("1670.1"),
            d("0.0147"),
            false,
            OrderTypeWire::limit(Tif::Ioc),
            None,
        )
        .unwrap();
        let action = Action::Order(OrderAction {
            orders: vec![order],
            grouping: Grouping::Na,
        });
        let hash = action_hash(&action.to_msgpack().unwrap(), 1_677_777_606_040, None, None);
        assert_eq!(
            hex::encode(hash),
            "0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"
        );
    }

    #[test]
    fn cloid_key_present_only_when_set() {
        let with = vector_action(gtc(), cloid1()).to_msgpack().unwrap();
        let without = vector_action(gtc(), None).to_msgpack().unwrap();
        // The order map has 7 entries with a cloid (0x87), 6 without (0x86).
        // The 34-character cloid is too long for a fixstr (max 31), so it is
        // a str8: 0xd9 then the length 0x22.
        assert!(hex::encode(&with).contains("87a16101"));
        assert!(hex::encode(&without).contains("86a16101"));
        assert!(!without.windows(2).any(|w| w == [0xa1, b'c']));
        let tail = hex::encode(&with);
        assert!(tail.contains(&format!(
            "a163d922{}",
            hex::encode("0x00000000000000000000000000000001")
        )));
    }

    #[test]
    fn preimage_with_vault_and_expiry() {
        let vault = [0xab; 20];
        let p = connection_preimage(&[0xc0], 0x0102, Some(vault), Some(0x0a0b));
        let mut expected = vec![0xc0, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0x01];
        expected.extend_from_slice(&vault);
        expected.extend_from_slice(&[0x00, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b]);
        assert_eq!(p, expected);
        let p = connection_preimage(&[0xc0], 1, None, Some(2));
        assert_eq!(hex::encode(p), "c0000000000000000100000000000000000002");
    }

    #[test]
    fn cancel_actions_msgpack() {
        let cancel = Action::Cancel(CancelAction {
            cancels: vec![CancelWire {
                a: 0,
                o: 77_738_308,
            }],
        });
        assert_eq!(
            hex::encode(cancel.to_msgpack().unwrap()),
            "82a474797065a663616e63656ca763616e63656c739182a16100a16fce04a23144"
        );
        let by_cloid = Action::CancelByCloid(CancelByCloidAction {
            cancels: vec![CancelByCloidWire {
                asset: 3,
                cloid: Cloid::from_u128(1),
            }],
        });
        let bytes = hex::encode(by_cloid.to_msgpack().unwrap());
        assert!(bytes.starts_with(&format!(
            "82a474797065ad{}a763616e63656c739182a5{}03a5{}d922",
            hex::encode("cancelByCloid"),
            hex::encode("asset"),
            hex::encode("cloid")
        )));
        assert_eq!(
            serde_json::to_string(&by_cloid).unwrap(),
            r#"{"type":"cancelByCloid","cancels":[{"asset":3,"cloid":"0x00000000000000000000000000000001"}]}"#
        );
    }

    #[test]
    fn json_roundtrip_reorders_to_canonical() {
        // Keys out of canonical order and an unknown key: the typed structs
        // restore canonical order and drop the unknown key, so the hash matches.
        let json = r#"{"grouping":"na","orders":[{"t":{"limit":{"tif":"Gtc"}},"s":"100","r":false,"p":"100","b":true,"a":1,"extra":5}],"type":"order"}"#;
        let action: Action = serde_json::from_str(json).unwrap();
        assert_eq!(action, vector_action(gtc(), None));
        assert_eq!(
            serde_json::to_string(&action).unwrap(),
            r#"{"type":"order","orders":[{"a":1,"b":true,"p":"100","s":"100","r":false,"t":{"limit":{"tif":"Gtc"}}}],"grouping":"na"}"#
        );
        let trigger = serde_json::to_string(&vector_action(sl_trigger(), cloid1())).unwrap();
        assert!(trigger.contains(r#""t":{"trigger":{"isMarket":true,"triggerPx":"103","tpsl":"sl"}},"c":"0x00000000000000000000000000000001""#));
    }

    #[test]
    fn exchange_request_json_and_fake_side_recovery() {
        let action = vector_action(gtc(), cloid1());
        let sig = sign_l1_action(&key(), &action, 0, None, None, Network::Mainnet).unwrap();
        let request = ExchangeRequest {
            action,
            nonce: 0,
            signature: sig,
            vault_address: None,
            expires_after: None,
        };
        let body = serde_json::to_string(&request).unwrap();
        assert!(body.ends_with(r#","v":27},"vaultAddress":null,"expiresAfter":null}"#));
        // The r of this vector has a leading zero nibble, kept on our wire.
        assert!(body.contains(r#""r":"0x041ae18e"#));
        // A fake exchange parses the body (also with the SDK's short r) and
        // recovers the signer.
        let short = body.replace("0x041ae18e", "0x41ae18e");
        for text in [body, short] {
            let parsed: ExchangeRequest = serde_json::from_str(&text).unwrap();
            let signer = recover_l1_signer(
                &parsed.action,
                parsed.nonce,
                None,
                parsed.expires_after,
                Network::Mainnet,
                &parsed.signature,
            )
            .unwrap();
            assert_eq!(to_checksum_address(&signer), ADDRESS);
        }
    }

    #[test]
    fn recover_signer_round_trip() {
        let digest = keccak256(b"round trip");
        let sig = sign_digest(&key(), &digest).unwrap();
        assert!(sig.v == 27 || sig.v == 28);
        let signer = recover_signer(&digest, &sig.r, &sig.s, sig.v).unwrap();
        assert_eq!(signer, address_of(&key()));
        // Wrong network: the digest differs, so another address comes back.
        let action = vector_action(gtc(), None);
        let sig = sign_l1_action(&key(), &action, 7, None, Some(99), Network::Testnet).unwrap();
        let ok = recover_l1_signer(&action, 7, None, Some(99), Network::Testnet, &sig).unwrap();
        assert_eq!(ok, address_of(&key()));
        let other = recover_l1_signer(&action, 7, None, Some(99), Network::Mainnet, &sig);
        assert_ne!(other.ok(), Some(address_of(&key())));
        let other = recover_l1_signer(&action, 7, None, None, Network::Testnet, &sig);
        assert_ne!(other.ok(), Some(address_of(&key())));
    }

    #[test]
    fn recover_signer_rejects_bad_input() {
        let digest = keccak256(b"x");
        let sig = sign_digest(&key(), &digest).unwrap();
        assert!(matches!(
            recover_signer(&digest, &sig.r, &sig.s, 29),
            Err(HlSignError::InvalidV(29))
        ));
        assert!(matches!(
            recover_signer(&digest, &sig.r, &sig.s, 0),
            Err(HlSignError::InvalidV(0))
        ));
        assert!(matches!(
            recover_signer(&digest, &[0; 32], &sig.s, sig.v),
            Err(HlSignError::InvalidSignature)
        ));
    }

    #[test]
    fn wire_numbers_are_normalized() {
        assert_eq!(decimal_to_wire(d("100")).unwrap(), "100");
        assert_eq!(decimal_to_wire(d("100.000")).unwrap(), "100");
        assert_eq!(decimal_to_wire(d("0.0147")).unwrap(), "0.0147");
        assert_eq!(decimal_to_wire(d("1670.10")).unwrap(), "1670.1");
        assert_eq!(decimal_to_wire(d("-0.0")).unwrap(), "0");
        assert_eq!(decimal_to_wire(d("0.00000001")).unwrap(), "0.00000001");
        assert_eq!(decimal_to_wire(d("123456789")).unwrap(), "123456789");
        assert!(matches!(
            decimal_to_wire(d("0.000000001")),
            Err(HlSignError::WireRounding { .. })
        ));
    }

    #[test]
    fn cloid_parsing() {
        assert_eq!(
            Cloid::from_u128(1).as_str(),
            "0x00000000000000000000000000000001"
        );
        assert_eq!(
            Cloid::parse("0x0000000000000000000000000000ABCD")
                .unwrap()
                .as_str(),
            "0x0000000000000000000000000000abcd"
        );
        assert!(Cloid::parse("0x1").is_err());
        assert!(Cloid::parse("00000000000000000000000000000001").is_err());
        assert!(Cloid::parse("0x0000000000000000000000000000000g").is_err());
        assert!(serde_json::from_str::<Cloid>(r#""0x12""#).is_err());
    }

    #[test]
    fn hex32_and_key_parsing() {
        let word = parse_hex32("0x1", "r").unwrap();
        assert_eq!(word[31], 1);
        assert!(word[..31].iter().all(|b| *b == 0));
        assert!(parse_hex32("0x", "r").is_err());
        assert!(parse_hex32(&"f".repeat(65), "r").is_err());
        assert!(parse_hex32("0xzz", "r").is_err());
        assert!(signing_key_from_hex("0x00").is_err());
        assert!(signing_key_from_hex(&format!("0x{}", "0".repeat(64))).is_err());
        assert!(parse_address("0x1234").is_err());
    }

    #[test]
    fn nonce_source_is_monotonic() {
        let nonces = NonceSource::new();
        assert_eq!(nonces.next(1000), 1000);
        // Same millisecond: last + 1.
        assert_eq!(nonces.next(1000), 1001);
        assert_eq!(nonces.next(1000), 1002);
        // Clock stepped back: still increasing.
        assert_eq!(nonces.next(500), 1003);
        // Clock jumped ahead: follow it.
        assert_eq!(nonces.next(5000), 5000);
        assert_eq!(nonces.last(), 5000);
        let restored = NonceSource::starting_after(9000);
        assert_eq!(restored.next(100), 9001);
    }

    #[test]
    fn nonce_source_is_unique_across_threads() {
        let nonces = NonceSource::new();
        let mut all: Vec<u64> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..1000).map(|_| nonces.next(42)).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000);
        assert_eq!(all[0], 42);
        assert_eq!(all[3999], 4041);
    }
}
