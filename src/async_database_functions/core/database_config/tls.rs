//! The TLS settings of a configuration: [`SslMode`] and the certificates and keys
//! ([`PemSource`]) read from `connect_args` or the URI.

use std::fmt;

/// TLS mode requested through `connect_args` `sslmode` or the URI's `sslmode` parameter.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Use TLS only if the server insists.
    Allow,
    /// Try TLS, fall back to plain.
    Prefer,
    /// Require TLS.
    Require,
    /// Require TLS and verify the CA.
    VerifyCa,
    /// Require TLS and verify CA and host name.
    VerifyFull,
}

impl SslMode {
    /// Reads a mode by name. The error goes on from the key.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        Ok(
            match value.to_ascii_lowercase().replace('_', "-").as_str() {
                "disable" | "disabled" => SslMode::Disable,
                "allow" => SslMode::Allow,
                "prefer" | "preferred" => SslMode::Prefer,
                "require" | "required" => SslMode::Require,
                "verify-ca" => SslMode::VerifyCa,
                "verify-full" | "verify-identity" => SslMode::VerifyFull,
                _ => {
                    return Err(format!(
                        ": unknown ssl mode {value:?}; expected disable, allow, prefer, \
                         require, verify-ca or verify-full"
                    ));
                }
            },
        )
    }
}

/// A certificate or key from `connect_args`: the path of a PEM file, or the PEM text itself
/// (text starting with `-----BEGIN`), as a service reading its secrets from the environment
/// has it. `Debug` shows a path but never inline PEM text.
#[derive(Clone, PartialEq, Eq)]
pub struct PemSource(pub(crate) String);

impl PemSource {
    /// The path, or the PEM text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is PEM text rather than a path.
    pub fn is_inline(&self) -> bool {
        let text = self.0.trim();
        text.starts_with("-----BEGIN") && text.ends_with("-----")
    }
}

impl fmt::Debug for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_inline() {
            f.write_str("<inline PEM>")
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}
