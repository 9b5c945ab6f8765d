//! Access control: viewers (anyone) read the dashboard, the feed and share
//! pages; the owner starts scans, changes the configuration, asks for AI
//! analyses and everything else that acts on their behalf.
//!
//! How a request is judged (all in `gate`, one middleware over the router):
//! the sender is identified (owner token in `Authorization: Bearer` for
//! scripts, the session cookie of a sign-in with the password whose argon2
//! hash `quantpro set-password` stored in `quantpro.toml`, or, with no
//! password set, a request from this machine: single-user mode), the route
//! is looked up in the `access` table (built from the router's own route
//! list, the Leptos pages and the server-function registry; deny by
//! default), and refusals are answered there (401, 403, 429). `sign_in`
//! serves the form and the session cookie; `limits` counts failed sign-ins
//! and costly actions per client.
//!
//! Safe start: `check_bind` refuses to serve on an address other than
//! loopback while no password is set.

pub mod access;
pub mod gate;
pub mod limits;
pub mod sessions;
pub mod sign_in;

pub use access::{Access, AccessTable, CostlyAction, RouteAccess, RouteKind};
pub use gate::{costly_limit, AuthGate, Client, Guard, Identity, SIGN_IN_LIMIT};
pub use quantpro_service::password::{
    hash_password, is_password_hash, verify_password, PasswordError,
};

use quantpro_service::settings::AuthSettings;
use std::net::SocketAddr;

/// Serving on a non-loopback address with no password set.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to serve on {addr} without an owner password: anyone who can reach it could start \
     scans and change the configuration. Run `quantpro set-password` to set one (stored hashed \
     in quantpro.toml under [auth]), or serve on 127.0.0.1 (LEPTOS_SITE_ADDR=127.0.0.1:3000)"
)]
pub struct BindRefused {
    pub addr: SocketAddr,
}

/// Loopback addresses are always fine (single-user mode); any other needs
/// a password.
pub fn check_bind(addr: SocketAddr, settings: &AuthSettings) -> Result<(), BindRefused> {
    if addr.ip().is_loopback() || settings.password_hash.is_some() {
        Ok(())
    } else {
        Err(BindRefused { addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_sources::keys::Secret;

    #[test]
    fn only_loopback_may_serve_without_a_password() {
        let open = AuthSettings::default();
        for addr in ["127.0.0.1:3000", "[::1]:3000", "127.0.0.2:80"] {
            assert!(check_bind(addr.parse().unwrap(), &open).is_ok(), "{addr}");
        }
        let err = check_bind("0.0.0.0:3000".parse().unwrap(), &open).unwrap_err();
        assert!(
            err.to_string().contains("Run `quantpro set-password`"),
            "{err}"
        );
        assert!(check_bind("[::]:3000".parse().unwrap(), &open).is_err());
        let locked = AuthSettings {
            password_hash: Some(Secret::new("$argon2id$...")),
            ..AuthSettings::default()
        };
        assert!(check_bind("0.0.0.0:3000".parse().unwrap(), &locked).is_ok());
    }
}
