//! A fake Hyperliquid (`POST /exchange`, `POST /info`) on 127.0.0.1 that
//! checks what the venue checks (EXTERNAL_APIS.md §11.2, §11.4 items 3, 7, 8):
//!
//! - **who signed**: the msgpack and keccak of the received action are
//!   rebuilt and the signer recovered ([`recover_l1_signer`]); an approved
//!   agent acts for its master, a registered master for itself, anyone else
//!   gets `User or API Wallet 0x… does not exist.`;
//! - **nonces**, per signer: the 100 highest are kept, a repeat or one below
//!   the smallest of them is refused, and so is one outside
//!   `(now − 2 days, now + 1 day)`; `expiresAfter` in the past is refused;
//! - **prices and sizes** with [`rules`]: "Price must be divisible by tick
//!   size.", "Order must have minimum value of $10.";
//! - **`normalTpsl`**: the entry fills (it crosses the mid) or rests, its
//!   stop and target wait for the fill (`waitingForFill`) or for their
//!   trigger (`waitingForTrigger`) as reduce-only protections of the
//!   position; when the test moves the mid past one it fills at the mid, the
//!   other is canceled, and the position is flat;
//! - **faults after acceptance** ([`Fault`]): the action is carried out,
//!   then the answer is cut off, never comes, or is a 502 (or, before
//!   acceptance, a 429 and nothing done);
//! - **answers** of §11.4 item 8: one status per order of a batch (resting,
//!   partly filled against a shallow book ([`FakeHyperliquid::set_depth`]),
//!   refused), "Insufficient margin to place order." at 20× leverage, and
//!   `unknownOid` for a while after placing on demand
//!   ([`FakeHyperliquid::lag_order_lookups`]);
//! - **the user stream** (`/ws`): `orderUpdates` and `userFills` of a
//!   master, `userFills` opening with an `isSnapshot` of past fills on every
//!   subscription; the test can drop every socket
//!   ([`FakeHyperliquid::drop_user_streams`]) or keep an action's events off
//!   the stream ([`FakeHyperliquid::skip_user_events`]).
//!
//! State (universe, mids, accounts, orders by oid and cloid, positions,
//! fills) lives in the fake, so a client that resends blindly gets two
//! orders here as it would there. Liquidity is infinite at the mid; a
//! crossing order fills whole at the mid, a resting limit at its price when
//! the mid reaches it (unless [`FakeHyperliquid::set_depth`] says
//! otherwise). Margin is checked at a fixed 20× leverage; no funding.
//!
//! Use (see `tests/hyperliquid.rs`):
//!
//! ```text
//! let fake = FakeHyperliquid::start(Network::Testnet).await;   // BTC 0, ETH 1, SOL 2
//! fake.add_account(master, Decimal::from(10_000));              // master: Address
//! fake.approve_agent(address_of(&agent_key), master);
//! let config = HyperliquidTradingConfig::new(Network::Testnet, Secret::new(agent_hex), master_hex)
//!     .with_base_url(fake.url())
//!     .with_timeout(Duration::from_millis(200));
//! let client = HyperliquidTrading::new(config)?;                // a TradingVenue
//! fake.set_mid("BTC", price);                                    // fills, stops, targets
//! fake.fail_next_exchange(Fault::Stall);                         // the next reply is lost
//! ```
//!
//! Choices where the venue's behaviour is not documented (CHECK them
//! against the venue): a standalone trigger answers `resting`; when one leg
//! of a `normalTpsl` group is refused, the group is not placed and the
//! other legs answer [`GROUP_REFUSED`]; the children of an IOC entry that
//! did not match answer the entry's error.

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use quantpro_sources::venues::hyperliquid::rules;
use quantpro_sources::venues::hyperliquid::signing::{
    parse_address, recover_l1_signer, Action, Address, CancelAction, CancelByCloidAction, Cloid,
    ExchangeRequest, Grouping, Network, OrderAction, OrderTypeWire, OrderWire, Tif, Tpsl,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Nonces kept per signer.
pub const NONCES_KEPT: usize = 100;
const DAY_MS: u64 = 86_400_000;
/// Taker fee (crossing orders, triggers) and maker fee (resting fills).
pub const TAKER_FEE: Decimal = Decimal::from_parts(45, 0, 0, false, 5);
pub const MAKER_FEE: Decimal = Decimal::from_parts(15, 0, 0, false, 5);
const LEVERAGE: u32 = 20;
const FIRST_OID: u64 = 77_738_308;

/// The venue's answer to cancelling an order that is not open.
pub const ORDER_GONE: &str = "Order was never placed, already canceled, or filled.";
pub const REDUCE_ONLY_WOULD_INCREASE: &str = "Reduce only order would increase position.";
pub const INVALID_SIZE: &str = "Order has invalid size.";
/// The fake's answer for the other legs of a `normalTpsl` group with a
/// refused leg (the venue's wording is not documented).
pub const GROUP_REFUSED: &str =
    "Order was not placed: another order of its TP/SL group was refused.";

/// A fault applied to the next `/exchange` request, **after** the action
/// was carried out (EXTERNAL_APIS.md §11.4 item 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The answer's headers go out, then the connection drops mid-body.
    DropReply,
    /// No answer ever comes (past any client timeout).
    Stall,
    /// `502 Bad Gateway`.
    ServerError,
    /// Refused before acceptance: `429 Too Many Requests`, nothing done.
    RateLimited,
}

/// The fake venue; serves until dropped.
pub struct FakeHyperliquid {
    url: String,
    venue: Arc<Mutex<Venue>>,
    server: JoinHandle<()>,
}

impl Drop for FakeHyperliquid {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Default universe: index 0 BTC (szDecimals 5, mid 64000), 1 ETH (4, 3200),
/// 2 SOL (2, 150).
const DEFAULT_UNIVERSE: [(&str, u32, i64); 3] =
    [("BTC", 5, 64_000), ("ETH", 4, 3_200), ("SOL", 2, 150)];

impl FakeHyperliquid {
    /// Serves on 127.0.0.1 (a free port) with the default universe,
    /// checking signatures for `network`. No account exists yet.
    pub async fn start(network: Network) -> FakeHyperliquid {
        let venue = Arc::new(Mutex::new(Venue {
            network,
            assets: DEFAULT_UNIVERSE
                .iter()
                .map(|(name, sz_decimals, mid)| Asset {
                    name: (*name).to_string(),
                    sz_decimals: *sz_decimals,
                    mid: Decimal::from(*mid),
                    depth: None,
                })
                .collect(),
            accounts: HashMap::new(),
            agents: HashMap::new(),
            nonces: HashMap::new(),
            orders: BTreeMap::new(),
            next_oid: FIRST_OID,
            next_tid: 1,
            fills: Vec::new(),
            fault: None,
            fixed_time: None,
            exchange_requests: 0,
            events: broadcast::channel(1024).0,
            kick: watch::channel(0).0,
            skip_events: false,
            lookup_lag: 0,
        }));
        let app = Router::new()
            .route("/exchange", post(exchange))
            .route("/info", post(info))
            .route("/ws", get(user_stream))
            .with_state(venue.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeHyperliquid { url, venue, server }
    }

    /// `http://127.0.0.1:<port>`: the base URL of `/exchange` and `/info`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `ws://127.0.0.1:<port>/ws`: the WebSocket of the user stream.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.url.replacen("http://", "ws://", 1))
    }

    /// Drops every user-stream socket at once, without a close frame.
    pub fn drop_user_streams(&self) {
        self.venue().kick.send_modify(|generation| *generation += 1);
    }

    /// While set, order updates and fills happen without a stream event
    /// (only REST and a later snapshot show them).
    pub fn skip_user_events(&self, skip: bool) {
        self.venue().skip_events = skip;
    }

    fn venue(&self) -> MutexGuard<'_, Venue> {
        self.venue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists a perp at the end of the universe; returns its asset index.
    pub fn add_asset(&self, name: &str, sz_decimals: u32, mid: Decimal) -> u32 {
        let mut venue = self.venue();
        venue.assets.push(Asset {
            name: name.to_string(),
            sz_decimals,
            mid,
            depth: None,
        });
        index_u32(venue.assets.len() - 1)
    }

    /// Moves a coin's mid: resting limits it reaches fill, triggers it
    /// crosses fire.
    pub fn set_mid(&self, coin: &str, mid: Decimal) {
        let mut venue = self.venue();
        let asset = venue
            .asset_index(coin)
            .unwrap_or_else(|| panic!("{coin} is not in the fake's universe"));
        venue.assets[asset as usize].mid = mid;
        let before = venue.marks();
        venue.sweep(asset, true);
        venue.publish_since(&before);
    }

    pub fn mid(&self, coin: &str) -> Decimal {
        let venue = self.venue();
        let asset = venue.asset_index(coin).expect("listed coin");
        venue.assets[asset as usize].mid
    }

    /// Opens a master account with this much USDC.
    pub fn add_account(&self, master: Address, usdc: Decimal) {
        self.venue().accounts.insert(
            master,
            Account {
                cash: usdc,
                positions: BTreeMap::new(),
            },
        );
    }

    /// Lets `agent` sign for `master` (what `approveAgent` does).
    pub fn approve_agent(&self, agent: Address, master: Address) {
        self.venue().agents.insert(agent, master);
    }

    /// The next `/exchange` request is carried out, then answered with `fault`.
    pub fn fail_next_exchange(&self, fault: Fault) {
        self.venue().fault = Some(fault);
    }

    /// Freezes the fake's clock (nonce window, expiry) at `ms`; `None`
    /// follows the wall clock again.
    pub fn set_time_ms(&self, ms: Option<u64>) {
        self.venue().fixed_time = ms;
    }

    /// The most a crossing order of `coin` fills on arrival (the rest of an
    /// IOC is canceled, the rest of a GTC rests); `None`: all of it.
    pub fn set_depth(&self, coin: &str, depth: Option<Decimal>) {
        let mut venue = self.venue();
        let asset = venue.asset_index(coin).expect("listed coin");
        venue.assets[asset as usize].depth = depth;
    }

    /// The next `queries` `orderStatus` lookups answer `unknownOid` whether
    /// or not the order exists (the lag after placing that clients report;
    /// EXTERNAL_APIS.md §11.4 item 8 says to CHECK it).
    pub fn lag_order_lookups(&self, queries: usize) {
        self.venue().lookup_lag = queries;
    }

    /// `/exchange` requests received, refused ones included.
    pub fn exchange_requests(&self) -> usize {
        self.venue().exchange_requests
    }

    /// The signed size of `master`'s position in `coin` (0 when flat).
    pub fn position(&self, master: Address, coin: &str) -> Decimal {
        let venue = self.venue();
        let Some(asset) = venue.asset_index(coin) else {
            return Decimal::ZERO;
        };
        venue
            .accounts
            .get(&master)
            .and_then(|a| a.positions.get(&asset))
            .map(|p| p.szi)
            .unwrap_or_default()
    }

    /// How many orders `master` has ever had with this cloid (a blind
    /// resend makes two).
    pub fn orders_with_cloid(&self, master: Address, cloid: &Cloid) -> usize {
        self.venue()
            .orders
            .values()
            .filter(|o| o.user == master && o.cloid.as_ref() == Some(cloid))
            .count()
    }

    /// `master`'s orders that are open or waiting for their entry's fill.
    pub fn open_orders(&self, master: Address) -> usize {
        self.venue()
            .orders
            .values()
            .filter(|o| o.user == master && o.status.is_live())
            .count()
    }

    /// Cash plus unrealised PnL.
    pub fn account_value(&self, master: Address) -> Decimal {
        let venue = self.venue();
        venue.account_value(&master)
    }
}

fn index_u32(index: usize) -> u32 {
    u32::try_from(index).expect("fewer than 2^32 assets")
}

struct Asset {
    name: String,
    sz_decimals: u32,
    mid: Decimal,
    /// The most a crossing order fills on arrival (`None`: all of it).
    depth: Option<Decimal>,
}

struct Account {
    /// Deposits plus realised PnL minus fees.
    cash: Decimal,
    positions: BTreeMap<u32, Position>,
}

#[derive(Clone, Copy)]
struct Position {
    szi: Decimal,
    entry_px: Decimal,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Limit(Tif),
    Trigger { trigger_px: Decimal, tpsl: Tpsl },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Open,
    /// A `normalTpsl` child whose entry rests.
    WaitingForParent,
    Filled,
    Triggered,
    Canceled(&'static str),
}

impl Status {
    fn is_live(self) -> bool {
        matches!(self, Status::Open | Status::WaitingForParent)
    }

    /// The word of `orderStatus`.
    fn word(self) -> &'static str {
        match self {
            Status::Open | Status::WaitingForParent => "open",
            Status::Filled => "filled",
            Status::Triggered => "triggered",
            Status::Canceled(word) => word,
        }
    }
}

struct Order {
    oid: u64,
    user: Address,
    asset: u32,
    is_buy: bool,
    limit_px: Decimal,
    orig_sz: Decimal,
    /// Size not yet filled.
    sz: Decimal,
    reduce_only: bool,
    kind: Kind,
    cloid: Option<Cloid>,
    status: Status,
    timestamp: u64,
    status_timestamp: u64,
    parent: Option<u64>,
    children: Vec<u64>,
}

struct Fill {
    user: Address,
    coin: String,
    px: Decimal,
    sz: Decimal,
    is_buy: bool,
    time: u64,
    start_position: Decimal,
    dir: &'static str,
    closed_pnl: Decimal,
    oid: u64,
    tid: u64,
    fee: Decimal,
    crossed: bool,
}

struct Venue {
    network: Network,
    assets: Vec<Asset>,
    accounts: HashMap<Address, Account>,
    agents: HashMap<Address, Address>,
    /// The highest nonces of each signer.
    nonces: HashMap<Address, BTreeSet<u64>>,
    orders: BTreeMap<u64, Order>,
    next_oid: u64,
    next_tid: u64,
    fills: Vec<Fill>,
    fault: Option<Fault>,
    fixed_time: Option<u64>,
    exchange_requests: usize,
    /// User-stream frames: (user, subscription type, text).
    events: broadcast::Sender<UserEvent>,
    /// Bumped to drop every user-stream socket.
    kick: watch::Sender<u64>,
    skip_events: bool,
    /// `orderStatus` lookups still to answer `unknownOid`.
    lookup_lag: usize,
}

#[derive(Clone)]
struct UserEvent {
    user: Address,
    kind: &'static str,
    text: String,
}

/// Each order's status and unfilled size, and the number of fills, before
/// a change: what changed is published on the user stream.
struct Marks {
    orders: HashMap<u64, (Status, Decimal)>,
    fills: usize,
}

fn err(text: impl Into<String>) -> Value {
    json!({"status": "err", "response": text.into()})
}

fn ok(kind: &str, statuses: Vec<Value>) -> Value {
    json!({"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}})
}

fn hex_address(address: &Address) -> String {
    let digits: String = address.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn wire(value: Decimal) -> String {
    value.normalize().to_string()
}

/// A checked order of an `order` action.
struct NewOrder {
    asset: u32,
    is_buy: bool,
    limit_px: Decimal,
    sz: Decimal,
    reduce_only: bool,
    kind: Kind,
    cloid: Option<Cloid>,
}

impl Venue {
    fn now(&self) -> u64 {
        self.fixed_time
            .unwrap_or_else(|| u64::try_from(wall_clock_ms()).unwrap_or(0))
    }

    fn asset_index(&self, coin: &str) -> Option<u32> {
        self.assets
            .iter()
            .position(|a| a.name == coin)
            .map(index_u32)
    }

    fn account_value(&self, user: &Address) -> Decimal {
        let Some(account) = self.accounts.get(user) else {
            return Decimal::ZERO;
        };
        account.cash
            + account
                .positions
                .iter()
                .map(|(asset, p)| p.szi * (self.assets[*asset as usize].mid - p.entry_px))
                .sum::<Decimal>()
    }

    /// Account value less the positions' margin at the fake's leverage.
    fn free_margin(&self, user: &Address) -> Decimal {
        let used: Decimal = self
            .accounts
            .get(user)
            .map(|a| {
                a.positions
                    .iter()
                    .map(|(asset, p)| p.szi.abs() * self.assets[*asset as usize].mid)
                    .sum::<Decimal>()
            })
            .unwrap_or_default()
            / Decimal::from(LEVERAGE);
        self.account_value(user) - used
    }

    fn position(&self, user: &Address, asset: u32) -> Decimal {
        self.accounts
            .get(user)
            .and_then(|a| a.positions.get(&asset))
            .map(|p| p.szi)
            .unwrap_or_default()
    }

    /// `/exchange`: authentication, nonce, then the action.
    fn handle(&mut self, request: &ExchangeRequest) -> Value {
        let now = self.now();
        if let Some(expires) = request.expires_after {
            if expires < now {
                return err("Action already expired");
            }
        }
        let vault = match request.vault_address.as_deref().map(parse_address) {
            None => None,
            Some(Ok(vault)) => Some(vault),
            Some(Err(_)) => return err("Invalid vault address."),
        };
        let signer = match recover_l1_signer(
            &request.action,
            request.nonce,
            vault,
            request.expires_after,
            self.network,
            &request.signature,
        ) {
            Ok(signer) => signer,
            Err(e) => return err(format!("Invalid signature: {e}")),
        };
        let master = match self.agents.get(&signer) {
            Some(master) => *master,
            None if self.accounts.contains_key(&signer) => signer,
            None => {
                return err(format!(
                    "User or API Wallet {} does not exist.",
                    hex_address(&signer)
                ))
            }
        };
        if let Some(vault) = vault {
            return err(format!("Vault not registered: {}", hex_address(&vault)));
        }
        if let Err(refusal) = self.use_nonce(signer, request.nonce, now) {
            return err(refusal);
        }
        let answer = match &request.action {
            Action::Order(order) => self.order_action(master, order, now),
            Action::CancelByCloid(cancel) => self.cancel_by_cloid(master, cancel, now),
            Action::Cancel(cancel) => self.cancel_by_oid(master, cancel, now),
        };
        for asset in 0..self.assets.len() {
            // Resting limits wait for the mid to move (a partly filled one
            // took the book's depth); triggers placed already crossed fire.
            self.sweep(index_u32(asset), false);
        }
        answer
    }

    /// The nonce rules of one signer.
    fn use_nonce(&mut self, signer: Address, nonce: u64, now: u64) -> Result<(), String> {
        // (now - 2 days, now + 1 day), open; signed so an early clock works.
        let lowest = i128::from(now) - i128::from(2 * DAY_MS);
        let highest = i128::from(now) + i128::from(DAY_MS);
        if i128::from(nonce) <= lowest {
            return Err(format!("Invalid nonce: nonce too low {nonce} < {lowest}"));
        }
        if i128::from(nonce) >= highest {
            return Err(format!("Invalid nonce: nonce too high {nonce} > {highest}"));
        }
        let kept = self.nonces.entry(signer).or_default();
        if kept.contains(&nonce) {
            return Err(format!("Invalid nonce: duplicate nonce {nonce}"));
        }
        if kept.len() >= NONCES_KEPT {
            let smallest = *kept.first().expect("non-empty");
            if nonce < smallest {
                return Err(format!("Invalid nonce: nonce too low {nonce} < {smallest}"));
            }
        }
        kept.insert(nonce);
        while kept.len() > NONCES_KEPT {
            kept.pop_first();
        }
        Ok(())
    }

    /// Checks one order of an `order` action with the venue's rules.
    fn check(&self, wire: &OrderWire) -> Result<NewOrder, String> {
        let asset = self
            .assets
            .get(wire.a as usize)
            .ok_or_else(|| format!("Invalid asset {}.", wire.a))?;
        let parse = |text: &str| Decimal::from_str(text).map_err(|_| "Invalid price.".to_string());
        let limit_px = parse(&wire.p)?;
        let sz = Decimal::from_str(&wire.s).map_err(|_| INVALID_SIZE.to_string())?;
        rules::check_size(sz, asset.sz_decimals).map_err(|_| INVALID_SIZE.to_string())?;
        rules::check_price(limit_px, asset.sz_decimals).map_err(|e| e.to_string())?;
        let kind = match &wire.t {
            OrderTypeWire::Limit(limit) => Kind::Limit(limit.tif),
            OrderTypeWire::Trigger(trigger) => {
                let trigger_px = parse(&trigger.trigger_px)?;
                rules::check_price(trigger_px, asset.sz_decimals).map_err(|e| e.to_string())?;
                Kind::Trigger {
                    trigger_px,
                    tpsl: trigger.tpsl,
                }
            }
        };
        if !wire.r {
            let value_px = match kind {
                Kind::Trigger { trigger_px, .. } => trigger_px,
                Kind::Limit(_) => limit_px,
            };
            rules::check_min_order_value(value_px, sz).map_err(|e| e.to_string())?;
        }
        Ok(NewOrder {
            asset: wire.a,
            is_buy: wire.b,
            limit_px,
            sz,
            reduce_only: wire.r,
            kind,
            cloid: wire.c.clone(),
        })
    }

    fn order_action(&mut self, user: Address, action: &OrderAction, now: u64) -> Value {
        let checked: Vec<Result<NewOrder, String>> =
            action.orders.iter().map(|o| self.check(o)).collect();
        match action.grouping {
            Grouping::NormalTpsl => self.bracket(user, checked, now),
            // positionTpsl is taken as plain orders: QuantPro does not send it.
            Grouping::Na | Grouping::PositionTpsl => {
                let statuses = checked
                    .into_iter()
                    .map(|order| match order {
                        Ok(order) => self.place(user, order, now).0,
                        Err(message) => json!({"error": message}),
                    })
                    .collect();
                ok("order", statuses)
            }
        }
    }

    /// `normalTpsl`: the entry, then reduce-only triggers for its size.
    fn bracket(
        &mut self,
        user: Address,
        checked: Vec<Result<NewOrder, String>>,
        now: u64,
    ) -> Value {
        let shape_ok = checked.len() >= 2
            && checked.iter().enumerate().all(|(i, o)| match o {
                Ok(o) => (i == 0) == matches!(o.kind, Kind::Limit(_)),
                Err(_) => true,
            });
        if !shape_ok {
            return err("Invalid TP/SL grouping: an entry then trigger orders.");
        }
        if checked.iter().any(Result::is_err) {
            let statuses = checked
                .iter()
                .map(|o| match o {
                    Ok(_) => json!({"error": GROUP_REFUSED}),
                    Err(message) => json!({"error": message}),
                })
                .collect();
            return ok("order", statuses);
        }
        let mut orders = checked.into_iter().map(|o| o.expect("checked"));
        let entry = orders.next().expect("an entry");
        let (entry_status, entry_oid) = self.place(user, entry, now);
        let mut statuses = vec![entry_status.clone()];
        let Some(parent) = entry_oid else {
            // The entry was refused (an IOC that did not match).
            statuses.extend(orders.map(|_| entry_status.clone()));
            return ok("order", statuses);
        };
        // Armed at the entry's first fill; reduce-only, they never exceed
        // the position.
        let parent_filled = {
            let entry = &self.orders[&parent];
            entry.sz < entry.orig_sz
        };
        for mut child in orders {
            child.reduce_only = true;
            let oid = self.insert(user, &child, Some(parent), now);
            if parent_filled {
                statuses.push(json!("waitingForTrigger"));
            } else {
                self.orders.get_mut(&oid).expect("inserted").status = Status::WaitingForParent;
                statuses.push(json!("waitingForFill"));
            }
            self.orders
                .get_mut(&parent)
                .expect("parent")
                .children
                .push(oid);
        }
        ok("order", statuses)
    }

    fn insert(&mut self, user: Address, order: &NewOrder, parent: Option<u64>, now: u64) -> u64 {
        let oid = self.next_oid;
        self.next_oid += 1;
        self.orders.insert(
            oid,
            Order {
                oid,
                user,
                asset: order.asset,
                is_buy: order.is_buy,
                limit_px: order.limit_px,
                orig_sz: order.sz,
                sz: order.sz,
                reduce_only: order.reduce_only,
                kind: order.kind,
                cloid: order.cloid.clone(),
                status: Status::Open,
                timestamp: now,
                status_timestamp: now,
                parent,
                children: Vec::new(),
            },
        );
        oid
    }

    /// Places one order: its status and, when it was placed, its oid.
    fn place(&mut self, user: Address, order: NewOrder, now: u64) -> (Value, Option<u64>) {
        let position = self.position(&user, order.asset);
        let reduces = (order.is_buy && position < Decimal::ZERO)
            || (!order.is_buy && position > Decimal::ZERO);
        if order.reduce_only && !reduces && !matches!(order.kind, Kind::Trigger { .. }) {
            return (json!({"error": REDUCE_ONLY_WOULD_INCREASE}), None);
        }
        let mid = self.assets[order.asset as usize].mid;
        let asset = order.asset;
        if !order.reduce_only {
            let px = match order.kind {
                Kind::Trigger { trigger_px, .. } => trigger_px,
                Kind::Limit(_) => order.limit_px,
            };
            let required = order.sz * px / Decimal::from(LEVERAGE);
            if required > self.free_margin(&user) {
                return (
                    json!({"error": format!("Insufficient margin to place order. asset={asset}")}),
                    None,
                );
            }
        }
        match order.kind {
            Kind::Trigger { .. } => {
                let oid = self.insert(user, &order, None, now);
                let status = json!({"resting": {"oid": oid}});
                (with_cloid_in(status, "resting", &order.cloid), Some(oid))
            }
            Kind::Limit(tif) => {
                let crosses = if order.is_buy {
                    order.limit_px >= mid
                } else {
                    order.limit_px <= mid
                };
                match (tif, crosses) {
                    (Tif::Ioc, false) => (
                        json!({"error": format!("Order could not immediately match against any resting orders. asset={asset}")}),
                        None,
                    ),
                    (Tif::Alo, true) => (
                        json!({"error": format!("Post only order would have immediately matched, bbo was {}. asset={asset}", wire(mid))}),
                        None,
                    ),
                    (_, true) => {
                        let oid = self.insert(user, &order, None, now);
                        let depth = self.assets[asset as usize].depth;
                        let filled = self.execute(oid, mid, TAKER_FEE, true, now, depth);
                        let order = self.orders.get_mut(&oid).expect("order");
                        if tif == Tif::Ioc && !order.sz.is_zero() {
                            // An IOC's unfilled rest is canceled at once.
                            order.status = Status::Canceled("canceled");
                        }
                        let status = json!({"filled": {"totalSz": wire(filled), "avgPx": wire(mid), "oid": oid}});
                        (with_cloid_in(status, "filled", &order.cloid), Some(oid))
                    }
                    (_, false) => {
                        let oid = self.insert(user, &order, None, now);
                        let status = json!({"resting": {"oid": oid}});
                        (with_cloid_in(status, "resting", &order.cloid), Some(oid))
                    }
                }
            }
        }
    }

    /// Fills what is left of an order at `px`; the size filled.
    fn execute(
        &mut self,
        oid: u64,
        px: Decimal,
        fee_rate: Decimal,
        crossed: bool,
        now: u64,
        depth: Option<Decimal>,
    ) -> Decimal {
        let (user, asset, is_buy, remaining, reduce_only) = {
            let o = &self.orders[&oid];
            (o.user, o.asset, o.is_buy, o.sz, o.reduce_only)
        };
        let mut sz = depth.map_or(remaining, |depth| remaining.min(depth));
        let start = self.position(&user, asset);
        if reduce_only {
            let reduces = (is_buy && start < Decimal::ZERO) || (!is_buy && start > Decimal::ZERO);
            sz = if reduces {
                sz.min(start.abs())
            } else {
                Decimal::ZERO
            };
        }
        if sz.is_zero() {
            let order = self.orders.get_mut(&oid).expect("order");
            order.status = Status::Canceled("reduceOnlyCanceled");
            order.status_timestamp = now;
            return Decimal::ZERO;
        }
        let signed = if is_buy { sz } else { -sz };
        let fee = sz * px * fee_rate;
        let account = self.accounts.entry(user).or_insert(Account {
            cash: Decimal::ZERO,
            positions: BTreeMap::new(),
        });
        let current = account.positions.get(&asset).copied().unwrap_or(Position {
            szi: Decimal::ZERO,
            entry_px: px,
        });
        let mut closed_pnl = Decimal::ZERO;
        let next = current.szi + signed;
        let opening =
            current.szi.is_zero() || current.szi.is_sign_positive() == signed.is_sign_positive();
        let entry_px = if opening {
            (current.szi.abs() * current.entry_px + sz * px) / next.abs()
        } else {
            let closed = sz.min(current.szi.abs());
            let long = if current.szi.is_sign_positive() {
                Decimal::ONE
            } else {
                Decimal::NEGATIVE_ONE
            };
            closed_pnl = closed * (px - current.entry_px) * long;
            if next.is_zero() || next.is_sign_positive() == current.szi.is_sign_positive() {
                current.entry_px
            } else {
                px
            }
        };
        account.cash += closed_pnl - fee;
        if next.is_zero() {
            account.positions.remove(&asset);
        } else {
            account.positions.insert(
                asset,
                Position {
                    szi: next,
                    entry_px,
                },
            );
        }
        let dir = match (
            opening,
            current.szi.is_sign_positive() || current.szi.is_zero(),
            is_buy,
        ) {
            (true, _, true) => "Open Long",
            (true, _, false) => "Open Short",
            (false, true, _) => "Close Long",
            (false, false, _) => "Close Short",
        };
        let tid = self.next_tid;
        self.next_tid += 1;
        let coin = self.assets[asset as usize].name.clone();
        self.fills.push(Fill {
            user,
            coin,
            px,
            sz,
            is_buy,
            time: now,
            start_position: start,
            dir,
            closed_pnl,
            oid,
            tid,
            fee,
            crossed,
        });
        let order = self.orders.get_mut(&oid).expect("order");
        // A reduce-only order never outlives the position it reduced.
        order.sz = if reduce_only {
            Decimal::ZERO
        } else {
            remaining - sz
        };
        if order.status == Status::Open && order.sz.is_zero() {
            order.status = Status::Filled;
        }
        order.status_timestamp = now;
        let children = order.children.clone();
        // The entry filled (in part or whole): its stop and target are armed.
        for child in children {
            if let Some(child) = self.orders.get_mut(&child) {
                if child.status == Status::WaitingForParent {
                    child.status = Status::Open;
                    child.status_timestamp = now;
                }
            }
        }
        if next.is_zero() {
            // Nothing left to protect: the position's reduce-only orders go.
            for order in self.orders.values_mut() {
                if order.user == user
                    && order.asset == asset
                    && order.reduce_only
                    && order.status.is_live()
                {
                    order.status = Status::Canceled("reduceOnlyCanceled");
                    order.status_timestamp = now;
                }
            }
        }
        sz
    }

    /// Fills the limits the mid reached (with `limits`) and fires the
    /// triggers it crossed, until nothing changes.
    fn sweep(&mut self, asset: u32, limits: bool) {
        let now = self.now();
        let mid = self.assets[asset as usize].mid;
        loop {
            let due = self.orders.values().find(|o| {
                o.asset == asset
                    && o.status == Status::Open
                    && match o.kind {
                        Kind::Limit(_) if !limits => false,
                        Kind::Limit(_) => {
                            if o.is_buy {
                                mid <= o.limit_px
                            } else {
                                mid >= o.limit_px
                            }
                        }
                        Kind::Trigger { trigger_px, tpsl } => match (tpsl, o.is_buy) {
                            (Tpsl::Sl, false) | (Tpsl::Tp, true) => mid <= trigger_px,
                            (Tpsl::Sl, true) | (Tpsl::Tp, false) => mid >= trigger_px,
                        },
                    }
            });
            let Some(order) = due else { break };
            let (oid, kind, limit_px, parent) =
                (order.oid, order.kind, order.limit_px, order.parent);
            match kind {
                Kind::Limit(_) => {
                    self.execute(oid, limit_px, MAKER_FEE, false, now, None);
                }
                Kind::Trigger { .. } => {
                    self.orders.get_mut(&oid).expect("order").status = Status::Triggered;
                    // One of a bracket's exits fired: the other is canceled.
                    let siblings = parent
                        .and_then(|p| self.orders.get(&p))
                        .map(|p| p.children.clone())
                        .unwrap_or_default();
                    for sibling in siblings.into_iter().filter(|s| *s != oid) {
                        if let Some(sibling) = self.orders.get_mut(&sibling) {
                            if sibling.status.is_live() {
                                sibling.status = Status::Canceled("siblingFilledCanceled");
                                sibling.status_timestamp = now;
                            }
                        }
                    }
                    self.execute(oid, mid, TAKER_FEE, true, now, None);
                }
            }
        }
    }

    fn cancel_oid(&mut self, user: Address, oid: Option<u64>, asset: u32, now: u64) -> Value {
        let open = oid
            .and_then(|oid| self.orders.get(&oid))
            .filter(|o| o.user == user && o.asset == asset && o.status.is_live())
            .map(|o| (o.oid, o.children.clone()));
        let Some((oid, children)) = open else {
            return json!({"error": ORDER_GONE});
        };
        for id in std::iter::once(oid).chain(children) {
            if let Some(order) = self.orders.get_mut(&id) {
                if order.status.is_live() {
                    order.status = Status::Canceled("canceled");
                    order.status_timestamp = now;
                }
            }
        }
        json!("success")
    }

    fn cancel_by_cloid(&mut self, user: Address, action: &CancelByCloidAction, now: u64) -> Value {
        let statuses = action
            .cancels
            .iter()
            .map(|cancel| {
                let oid = self
                    .orders
                    .values()
                    .rev()
                    .find(|o| {
                        o.user == user
                            && o.cloid.as_ref() == Some(&cancel.cloid)
                            && o.status.is_live()
                    })
                    .map(|o| o.oid);
                self.cancel_oid(user, oid, cancel.asset, now)
            })
            .collect();
        ok("cancel", statuses)
    }

    fn cancel_by_oid(&mut self, user: Address, action: &CancelAction, now: u64) -> Value {
        let statuses = action
            .cancels
            .iter()
            .map(|cancel| self.cancel_oid(user, Some(cancel.o), cancel.a, now))
            .collect();
        ok("cancel", statuses)
    }

    /// An order as `frontendOpenOrders` and `orderStatus` show it.
    fn frontend(&self, order: &Order) -> Value {
        let (is_trigger, trigger_px, order_type, condition) = match order.kind {
            Kind::Limit(_) => (false, Decimal::ZERO, "Limit", "N/A".to_string()),
            Kind::Trigger { trigger_px, tpsl } => {
                let below = matches!((tpsl, order.is_buy), (Tpsl::Sl, false) | (Tpsl::Tp, true));
                (
                    true,
                    trigger_px,
                    if tpsl == Tpsl::Sl {
                        "Stop Market"
                    } else {
                        "Take Profit Market"
                    },
                    format!(
                        "Price {} {}",
                        if below { "below" } else { "above" },
                        wire(trigger_px)
                    ),
                )
            }
        };
        let children: Vec<Value> = order
            .children
            .iter()
            .filter_map(|c| self.orders.get(c))
            .filter(|c| c.status == Status::WaitingForParent)
            .map(|c| self.frontend(c))
            .collect();
        json!({
            "coin": self.assets[order.asset as usize].name,
            "side": if order.is_buy { "B" } else { "A" },
            "limitPx": wire(order.limit_px),
            "sz": wire(order.sz),
            "oid": order.oid,
            "timestamp": order.timestamp,
            "triggerCondition": condition,
            "isTrigger": is_trigger,
            "triggerPx": wire(trigger_px),
            "children": children,
            "isPositionTpsl": false,
            "reduceOnly": order.reduce_only,
            "orderType": order_type,
            "origSz": wire(order.orig_sz),
            "tif": match order.kind { Kind::Limit(tif) => json!(format!("{tif:?}")), Kind::Trigger { .. } => Value::Null },
            "cloid": order.cloid.as_ref().map(|c| c.as_str().to_string()),
        })
    }

    fn clearinghouse_state(&self, user: &Address) -> Value {
        let empty = BTreeMap::new();
        let (cash, positions) = match self.accounts.get(user) {
            Some(a) => (a.cash, &a.positions),
            None => (Decimal::ZERO, &empty),
        };
        let leverage = Decimal::from(LEVERAGE);
        let mut margin_used = Decimal::ZERO;
        let mut notional = Decimal::ZERO;
        let mut upnl_total = Decimal::ZERO;
        let asset_positions: Vec<Value> = positions
            .iter()
            .map(|(asset, p)| {
                let mid = self.assets[*asset as usize].mid;
                let value = p.szi.abs() * mid;
                let upnl = p.szi * (mid - p.entry_px);
                let margin = value / leverage;
                margin_used += margin;
                notional += value;
                upnl_total += upnl;
                json!({"type": "oneWay", "position": {
                    "coin": self.assets[*asset as usize].name,
                    "szi": wire(p.szi),
                    "entryPx": wire(p.entry_px),
                    "leverage": {"type": "cross", "value": LEVERAGE},
                    "liquidationPx": null,
                    "marginUsed": wire(margin.round_dp(6)),
                    "positionValue": wire(value.round_dp(6)),
                    "unrealizedPnl": wire(upnl.round_dp(6)),
                    "returnOnEquity": "0.0",
                    "maxLeverage": 50,
                }})
            })
            .collect();
        let account_value = cash + upnl_total;
        let summary = json!({
            "accountValue": wire(account_value.round_dp(6)),
            "totalMarginUsed": wire(margin_used.round_dp(6)),
            "totalNtlPos": wire(notional.round_dp(6)),
            "totalRawUsd": wire(cash.round_dp(6)),
        });
        json!({
            "marginSummary": summary,
            "crossMarginSummary": summary,
            "crossMaintenanceMarginUsed": "0.0",
            "withdrawable": wire((account_value - margin_used).max(Decimal::ZERO).round_dp(6)),
            "assetPositions": asset_positions,
            "time": self.now(),
        })
    }

    fn marks(&self) -> Marks {
        Marks {
            orders: self
                .orders
                .values()
                .map(|o| (o.oid, (o.status, o.sz)))
                .collect(),
            fills: self.fills.len(),
        }
    }

    /// Order updates for orders new or changed since `before`, then the new fills.
    fn publish_since(&self, before: &Marks) {
        if self.skip_events {
            return;
        }
        let mut updates: HashMap<Address, Vec<Value>> = HashMap::new();
        for order in self.orders.values() {
            if before.orders.get(&order.oid) != Some(&(order.status, order.sz)) {
                updates
                    .entry(order.user)
                    .or_default()
                    .push(self.order_update(order));
            }
        }
        for (user, data) in updates {
            self.emit(
                user,
                "orderUpdates",
                json!({"channel": "orderUpdates", "data": data}),
            );
        }
        let mut fills: HashMap<Address, Vec<Value>> = HashMap::new();
        for fill in &self.fills[before.fills..] {
            fills
                .entry(fill.user)
                .or_default()
                .push(self.fill_json(fill));
        }
        for (user, fills) in fills {
            let data = json!({"user": hex_address(&user), "fills": fills});
            self.emit(
                user,
                "userFills",
                json!({"channel": "userFills", "data": data}),
            );
        }
    }

    fn emit(&self, user: Address, kind: &'static str, frame: Value) {
        // No subscriber is not an error.
        let _ = self.events.send(UserEvent {
            user,
            kind,
            text: frame.to_string(),
        });
    }

    /// An element of `orderUpdates`.
    fn order_update(&self, order: &Order) -> Value {
        json!({
            "order": {
                "coin": self.assets[order.asset as usize].name,
                "side": if order.is_buy { "B" } else { "A" },
                "limitPx": wire(order.limit_px),
                "sz": wire(order.sz),
                "oid": order.oid,
                "timestamp": order.timestamp,
                "origSz": wire(order.orig_sz),
                "cloid": order.cloid.as_ref().map(|c| c.as_str().to_string()),
            },
            "status": order.status.word(),
            "statusTimestamp": order.status_timestamp,
        })
    }

    /// A fill as `userFills` shows it (REST and stream).
    fn fill_json(&self, f: &Fill) -> Value {
        json!({
            "coin": f.coin, "px": wire(f.px), "sz": wire(f.sz),
            "side": if f.is_buy { "B" } else { "A" }, "time": f.time,
            "startPosition": wire(f.start_position), "dir": f.dir,
            "closedPnl": wire(f.closed_pnl.round_dp(6)),
            "hash": format!("0x{:064x}", f.tid), "oid": f.oid, "crossed": f.crossed,
            "fee": wire(f.fee.round_dp(6)), "tid": f.tid, "feeToken": "USDC",
        })
    }

    /// A user's fills, newest first, at most 2000.
    fn user_fills(&self, user: &Address) -> Vec<Value> {
        self.fills
            .iter()
            .rev()
            .filter(|f| f.user == *user)
            .take(2000)
            .map(|f| self.fill_json(f))
            .collect()
    }

    /// `/info`; `None` for a request the venue cannot read.
    fn info(&mut self, body: &Value) -> Option<Value> {
        let user = || {
            body.get("user")
                .and_then(Value::as_str)
                .and_then(|u| parse_address(u).ok())
        };
        let answer = match body.get("type")?.as_str()? {
            "meta" => json!({
                "universe": self.assets.iter().map(|a| json!({"name": a.name, "szDecimals": a.sz_decimals, "maxLeverage": 50})).collect::<Vec<_>>(),
                "marginTables": [],
            }),
            "allMids" => Value::Object(
                self.assets
                    .iter()
                    .map(|a| (a.name.clone(), json!(wire(a.mid))))
                    .collect(),
            ),
            "clearinghouseState" => self.clearinghouse_state(&user()?),
            "frontendOpenOrders" | "openOrders" => {
                let user = user()?;
                let open: Vec<Value> = self
                    .orders
                    .values()
                    .filter(|o| o.user == user && o.status == Status::Open)
                    .map(|o| self.frontend(o))
                    .collect();
                Value::Array(open)
            }
            "orderStatus" if self.lookup_lag > 0 => {
                self.lookup_lag -= 1;
                json!({"status": "unknownOid"})
            }
            "orderStatus" => {
                let user = user()?;
                let wanted = body.get("oid")?;
                let found = match wanted {
                    Value::Number(n) => {
                        let oid = n.as_u64()?;
                        self.orders.get(&oid).filter(|o| o.user == user)
                    }
                    Value::String(text) => {
                        let cloid = Cloid::parse(text).ok()?;
                        self.orders
                            .values()
                            .rev()
                            .find(|o| o.user == user && o.cloid.as_ref() == Some(&cloid))
                    }
                    _ => return None,
                };
                match found {
                    Some(order) => json!({"status": "order", "order": {
                        "order": self.frontend(order),
                        "status": order.status.word(),
                        "statusTimestamp": order.status_timestamp,
                    }}),
                    None => json!({"status": "unknownOid"}),
                }
            }
            "userFills" => Value::Array(self.user_fills(&user()?)),
            _ => return None,
        };
        Some(answer)
    }
}

fn with_cloid_in(mut status: Value, key: &str, cloid: &Option<Cloid>) -> Value {
    if let Some(cloid) = cloid {
        status[key]["cloid"] = json!(cloid.as_str());
    }
    status
}

fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

const UNREADABLE: &str = "Failed to deserialize the JSON body into the target type";

async fn exchange(State(venue): State<Arc<Mutex<Venue>>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<ExchangeRequest>(&body) else {
        return (StatusCode::UNPROCESSABLE_ENTITY, UNREADABLE).into_response();
    };
    let (answer, fault) = {
        let mut venue = venue.lock().unwrap_or_else(|e| e.into_inner());
        venue.exchange_requests += 1;
        if venue.fault == Some(Fault::RateLimited) {
            venue.fault = None;
            return (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
        }
        let before = venue.marks();
        let answer = venue.handle(&request);
        venue.publish_since(&before);
        (answer, venue.fault.take())
    };
    match fault {
        None => Json(answer).into_response(),
        Some(Fault::ServerError) => (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response(),
        Some(Fault::RateLimited) => unreachable!("answered before the action"),
        Some(Fault::Stall) => {
            std::future::pending::<()>().await;
            unreachable!("a stalled answer never comes")
        }
        Some(Fault::DropReply) => {
            let cut = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "the fake drops the connection",
                ))
            });
            Response::new(Body::from_stream(cut))
        }
    }
}

async fn info(State(venue): State<Arc<Mutex<Venue>>>, body: Bytes) -> Response {
    let answer = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| {
            let mut venue = venue.lock().unwrap_or_else(|e| e.into_inner());
            venue.info(&body)
        });
    match answer {
        Some(answer) => Json(answer).into_response(),
        None => (StatusCode::UNPROCESSABLE_ENTITY, UNREADABLE).into_response(),
    }
}

async fn user_stream(
    State(venue): State<Arc<Mutex<Venue>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| user_session(venue, socket))
}

/// One user-stream socket: subscriptions of `orderUpdates`/`userFills`
/// (acknowledged; `userFills` then gets its snapshot), pings, and the
/// subscribed users' events until the test drops the socket.
async fn user_session(venue: Arc<Mutex<Venue>>, socket: WebSocket) {
    let (mut events, mut kick) = {
        let venue = venue.lock().unwrap_or_else(|e| e.into_inner());
        (venue.events.subscribe(), venue.kick.subscribe())
    };
    let (mut sink, mut stream) = socket.split();
    let mut subscribed: HashSet<(String, Address)> = HashSet::new();
    loop {
        let outgoing: Vec<String> = tokio::select! {
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let venue = venue.lock().unwrap_or_else(|e| e.into_inner());
                user_request(&venue, &text, &mut subscribed)
            }
            event = events.recv() => match event {
                Ok(event) if subscribed.contains(&(event.kind.to_string(), event.user)) => vec![event.text],
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            // Dropped without a close frame, as a lost connection.
            _ = kick.changed() => return,
        };
        for text in outgoing {
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    }
}

/// The frames answering one client message of the user stream.
fn user_request(
    venue: &Venue,
    text: &str,
    subscribed: &mut HashSet<(String, Address)>,
) -> Vec<String> {
    let error = |detail: &str| vec![json!({"channel": "error", "data": detail}).to_string()];
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        return error(&format!(
            "Error parsing JSON into valid websocket request: {text}"
        ));
    };
    match message.get("method").and_then(Value::as_str) {
        Some("ping") => vec![json!({"channel": "pong"}).to_string()],
        Some("subscribe") => {
            let subscription = &message["subscription"];
            let kind = subscription["type"].as_str().unwrap_or_default();
            let user = subscription["user"]
                .as_str()
                .and_then(|u| parse_address(u).ok());
            let (Some(user), true) = (user, matches!(kind, "orderUpdates" | "userFills")) else {
                return error(&format!("Invalid subscription {subscription}"));
            };
            if !subscribed.insert((kind.to_string(), user)) {
                return error(&format!("Already subscribed: {subscription}"));
            }
            let mut frames =
                vec![json!({"channel": "subscriptionResponse", "data": message}).to_string()];
            if kind == "userFills" {
                let data = json!({"isSnapshot": true, "user": hex_address(&user), "fills": venue.user_fills(&user)});
                frames.push(json!({"channel": "userFills", "data": data}).to_string());
            }
            frames
        }
        _ => error(&format!("Unknown method: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDRESS: &str = "0x14791697260E4c9A71f18484C9f997B308e59325";

    /// The §11.2 vectors as the SDK sends them (r and s as published, one r
    /// with a dropped leading zero): asset 1, buy, p 100, s 100, nonce 0.
    fn vector_body(t: &str, cloid: bool, r: &str, s: &str, v: u8) -> String {
        let c = if cloid {
            r#","c":"0x00000000000000000000000000000001""#
        } else {
            ""
        };
        format!(
            r#"{{"action":{{"type":"order","orders":[{{"a":1,"b":true,"p":"100","s":"100","r":false,"t":{t}{c}}}],"grouping":"na"}},"nonce":0,"signature":{{"r":"{r}","s":"{s}","v":{v}}},"vaultAddress":null,"expiresAfter":null}}"#
        )
    }

    async fn post(url: &str, body: String) -> Value {
        let client = reqwest::Client::new();
        client
            .post(format!("{url}/exchange"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_published_signatures_recover_the_sdk_test_address() {
        const GTC: &str = r#"{"limit":{"tif":"Gtc"}}"#;
        const SL: &str = r#"{"trigger":{"isMarket":true,"triggerPx":"103","tpsl":"sl"}}"#;
        let vectors = [
            (
                Network::Mainnet,
                GTC,
                false,
                "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
                "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e",
                28,
            ),
            (
                Network::Testnet,
                GTC,
                false,
                "0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
                "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5",
                27,
            ),
            (
                Network::Mainnet,
                GTC,
                true,
                "0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
                "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da",
                27,
            ),
            (
                Network::Testnet,
                GTC,
                true,
                "0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
                "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988",
                28,
            ),
            (
                Network::Mainnet,
                SL,
                false,
                "0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9",
                "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405",
                27,
            ),
            (
                Network::Testnet,
                SL,
                false,
                "0x971c554d917c44e0e1b6cc45d8f9404f32172a9d3b3566262347d0302896a2e4",
                "0x206257b104788f80450f8e786c329daa589aa0b32ba96948201ae556d5637eac",
                28,
            ),
        ];
        for (network, t, cloid, r, s, v) in vectors {
            let fake = FakeHyperliquid::start(network).await;
            // Nonce 0 is inside the window of a clock at 1 s.
            fake.set_time_ms(Some(1_000));
            fake.add_account(parse_address(ADDRESS).unwrap(), Decimal::from(1_000_000));
            let answer = post(fake.url(), vector_body(t, cloid, r, s, v)).await;
            assert_eq!(answer["status"], "ok", "{network:?} {t} {answer}");
            let status = &answer["response"]["data"]["statuses"][0];
            assert!(status.get("error").is_none(), "{status}");
            // The same bytes again: a duplicate nonce.
            let again = post(fake.url(), vector_body(t, cloid, r, s, v)).await;
            assert_eq!(again["response"], "Invalid nonce: duplicate nonce 0");
            // The other network's signer is someone else.
            let other = FakeHyperliquid::start(match network {
                Network::Mainnet => Network::Testnet,
                Network::Testnet => Network::Mainnet,
            })
            .await;
            other.set_time_ms(Some(1_000));
            other.add_account(parse_address(ADDRESS).unwrap(), Decimal::from(1_000_000));
            let refused = post(other.url(), vector_body(t, cloid, r, s, v)).await;
            let text = refused["response"].as_str().unwrap();
            assert!(
                text.starts_with("User or API Wallet 0x") && text.ends_with(" does not exist."),
                "{text}"
            );
            assert!(!text
                .to_ascii_lowercase()
                .contains(&ADDRESS.to_ascii_lowercase()));
        }
    }

    #[tokio::test]
    async fn an_unreadable_body_is_a_422() {
        let fake = FakeHyperliquid::start(Network::Mainnet).await;
        let client = reqwest::Client::new();
        let response = client
            .post(format!("{}/exchange", fake.url()))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        let response = client
            .post(format!("{}/info", fake.url()))
            .body(r#"{"type":"nope"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
    }
}
