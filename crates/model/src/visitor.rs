//! Who is asking, as far as the UI cares: a viewer (reads only) or the
//! owner in one of the three ways the access layer knows them. The server
//! decides it per request and writes it into the page's `<head>`; the
//! browser reads it back from there (`app::session`).

/// The header a signed-in page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who the request is from, as far as the UI cares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Visitor {
    /// Not signed in: reads only.
    #[default]
    Viewer,
    /// The owner on this machine, no password configured (single-user mode).
    LocalOwner,
    /// The owner with a session cookie; actions carry this token.
    SignedIn { csrf_token: String },
    /// The owner through `Authorization: Bearer` (scripts).
    TokenOwner,
}

impl Visitor {
    pub fn is_owner(&self) -> bool {
        !matches!(self, Visitor::Viewer)
    }

    /// The `quantpro-role` meta value.
    pub fn role_name(&self) -> &'static str {
        match self {
            Visitor::Viewer => "viewer",
            Visitor::LocalOwner => "local",
            Visitor::SignedIn { .. } => "signed-in",
            Visitor::TokenOwner => "token",
        }
    }

    pub fn csrf_token(&self) -> Option<&str> {
        match self {
            Visitor::SignedIn { csrf_token } => Some(csrf_token),
            _ => None,
        }
    }
}
