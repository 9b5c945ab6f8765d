//! [ssr] Keeps the owner's password hash out of error messages: a TOML
//! error quotes the offending line of `quantpro.toml`, which may be
//! `auth.password_hash` (an unterminated string, say), and such an error is
//! printed and logged.

/// Every argon2 hash in `message` becomes `$argon2…`.
pub(super) fn redact_password_hashes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("$argon2") {
        out.push_str(&rest[..start]);
        out.push_str("$argon2…");
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_password_hashes;

    #[test]
    fn hashes_are_cut_after_their_name_and_the_rest_is_kept() {
        let message =
            "line 2: password_hash = \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\n  | ^";
        assert_eq!(
            redact_password_hashes(message),
            "line 2: password_hash = \"$argon2…\n  | ^"
        );
        assert_eq!(redact_password_hashes("no hash here"), "no hash here");
    }
}
