//! The owner's password: `quantpro set-password` hashes it with argon2id
//! into a PHC string (`$argon2id$v=19$m=...`) kept in `quantpro.toml`; a
//! sign-in checks a typed password against it. The password itself is never
//! stored, logged or sent anywhere.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// A shorter password is refused by `quantpro set-password`.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the two passwords differ; nothing was changed")]
    Mismatch,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The argon2id hash (default parameters of the argon2 crate, OWASP's
/// recommended minimum: 19 MiB, 2 passes) of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `password` is the one `hash` was made from. Costs one argon2
/// run (tens of milliseconds): call it off the async workers.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// True when `text` is an argon2 PHC string (what `auth.password_hash` must be).
pub fn is_password_hash(text: &str) -> bool {
    PasswordHash::new(text).is_ok_and(|hash| hash.algorithm.as_str().starts_with("argon2"))
}

/// 32 random bytes from the operating system, hex-encoded: session ids and
/// CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(is_password_hash(&hash));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct hors", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        let again = hash_password("correct horse").unwrap();
        assert_ne!(hash, again, "a new salt each time");
    }

    #[test]
    fn short_passwords_and_other_strings_are_refused() {
        assert!(matches!(
            hash_password("1234567"),
            Err(PasswordError::TooShort)
        ));
        assert!(!is_password_hash("hunter2"));
        assert!(!is_password_hash(""));
        // A PHC string of another algorithm is not what set-password writes.
        assert!(!is_password_hash(
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ));
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
