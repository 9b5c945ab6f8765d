//! The access table: for every route of the server, who may call it. The
//! router's own route list, the Leptos pages and the server-function
//! registry feed it (see `server::access_table`), and the `gate` middleware
//! looks every request up here, so the role is checked in this one place.
//!
//! Deny by default: a request that no entry lists is the owner's, except a
//! GET (or HEAD) outside `/api/`, which is a page or a static file.

use axum::http::Method;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone: reading the dashboard, the feed, share pages; signing in.
    Viewer,
    /// The signed-in owner (session, bearer token, or loopback in
    /// single-user mode).
    Owner,
    /// The owner, within a per-client rate limit: actions that spend
    /// resources (CPU for a scan, the owner's Gemini quota).
    Costly(CostlyAction),
}

impl Access {
    pub fn needs_owner(self) -> bool {
        !matches!(self, Access::Viewer)
    }
}

/// The rate-limited owner actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostlyAction {
    Scan,
    AiAnalysis,
}

impl CostlyAction {
    pub const ALL: [CostlyAction; 2] = [CostlyAction::Scan, CostlyAction::AiAnalysis];

    /// What a 429 calls it.
    pub fn label(self) -> &'static str {
        match self {
            CostlyAction::Scan => "scan starts",
            CostlyAction::AiAnalysis => "AI analyses",
        }
    }
}

/// Where a route comes from (for the tests and for error wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A route of the router's own list (JSON API, sign-in, health).
    Route,
    /// A Leptos page.
    Page,
    /// A Leptos server function.
    ServerFn,
}

/// One entry: `method` (`None`: any) and `path` in axum's syntax
/// (`{param}` one segment, `{*rest}` the remainder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAccess {
    pub method: Option<Method>,
    pub path: String,
    pub access: Access,
    pub kind: RouteKind,
}

#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    routes: Vec<RouteAccess>,
}

impl AccessTable {
    pub fn new(routes: Vec<RouteAccess>) -> AccessTable {
        AccessTable { routes }
    }

    pub fn routes(&self) -> &[RouteAccess] {
        &self.routes
    }

    /// Who may send `method` to `path`. A path listed for other methods
    /// only, and anything unlisted but a page read, is the owner's.
    pub fn access(&self, method: &Method, path: &str) -> Access {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        // Static paths win over patterns (as in the router: a static path
        // with another method is a 405 there, not the pattern's); the first
        // matching pattern in the list wins over later ones.
        let exact: Vec<&RouteAccess> = self.routes.iter().filter(|r| r.path == path).collect();
        let candidates = if exact.is_empty() {
            self.routes
                .iter()
                .filter(|r| r.path.contains('{') && path_matches(&r.path, path))
                .collect()
        } else {
            exact
        };
        if !candidates.is_empty() {
            return candidates
                .into_iter()
                .find(|r| r.method.as_ref().is_none_or(|m| m == method))
                .map_or(Access::Owner, |r| r.access);
        }
        if *method == Method::GET && !is_api_path(path) {
            Access::Viewer
        } else {
            Access::Owner
        }
    }
}

fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Whether `path` matches the axum-style `pattern`.
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut wanted = pattern.trim_start_matches('/').split('/');
    let mut given = path.trim_start_matches('/').split('/');
    loop {
        match (wanted.next(), given.next()) {
            (Some(p), Some(g)) if p.starts_with("{*") => {
                return !g.is_empty() || given.next().is_some()
            }
            (Some(p), Some(g)) if p.starts_with('{') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(p), Some(g)) => {
                if p != g {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: Option<Method>, path: &str, access: Access) -> RouteAccess {
        RouteAccess {
            method,
            path: path.to_string(),
            access,
            kind: RouteKind::Route,
        }
    }

    #[test]
    fn lookups_prefer_static_paths_then_patterns_then_deny() {
        let table = AccessTable::new(vec![
            entry(Some(Method::GET), "/api/config", Access::Viewer),
            entry(Some(Method::PUT), "/api/config", Access::Owner),
            entry(
                Some(Method::POST),
                "/api/scan/start",
                Access::Costly(CostlyAction::Scan),
            ),
            entry(
                Some(Method::GET),
                "/signal/{exchange}/{symbol}",
                Access::Viewer,
            ),
            entry(None, "/api/{*rest}", Access::Viewer),
        ]);
        let access = |m: Method, p: &str| table.access(&m, p);
        assert_eq!(access(Method::GET, "/api/config"), Access::Viewer);
        assert_eq!(access(Method::HEAD, "/api/config"), Access::Viewer);
        assert_eq!(access(Method::PUT, "/api/config"), Access::Owner);
        assert_eq!(
            access(Method::DELETE, "/api/config"),
            Access::Owner,
            "a listed path with another method is denied"
        );
        assert_eq!(
            access(Method::POST, "/api/scan/start"),
            Access::Costly(CostlyAction::Scan)
        );
        assert_eq!(access(Method::GET, "/signal/MEXC/BTCUSDT"), Access::Viewer);
        assert_eq!(access(Method::POST, "/signal/MEXC/BTCUSDT"), Access::Owner);
        assert_eq!(access(Method::POST, "/api/whatever"), Access::Viewer);
        // Unlisted: page reads are open, everything else is the owner's.
        assert_eq!(access(Method::GET, "/pkg/quantpro.wasm"), Access::Viewer);
        assert_eq!(access(Method::POST, "/"), Access::Owner);
        assert_eq!(access(Method::DELETE, "/favicon.svg"), Access::Owner);
        let no_catch_all = AccessTable::new(vec![]);
        assert_eq!(
            no_catch_all.access(&Method::GET, "/api/new_thing"),
            Access::Owner
        );
    }

    #[test]
    fn patterns_match_whole_segments() {
        assert!(path_matches("/signal/{a}/{b}", "/signal/x/y"));
        assert!(!path_matches("/signal/{a}/{b}", "/signal/x"));
        assert!(!path_matches("/signal/{a}/{b}", "/signal/x/y/z"));
        assert!(!path_matches("/signal/{a}/{b}", "/signal//y"));
        assert!(path_matches("/api/{*rest}", "/api/a/b/c"));
        assert!(!path_matches("/api/{*rest}", "/api/"));
        assert!(!path_matches("/api/{*rest}", "/apix/a"));
    }
}
