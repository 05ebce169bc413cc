//! TLS for LDAP: `ldaps://` listeners and the StartTLS extended operation (RFC 4511
//! §4.14, RFC 4513 §3), with rustls, configured by slapd's directives
//! `TLSCertificateFile`, `TLSCertificateKeyFile`, `TLSCACertificateFile` and
//! `TLSVerifyClient` (slapd.conf(5) "TLS OPTIONS"); and the `security` factors
//! (slapd.conf(5) `security`) that make binds and writes require TLS.
//!
//! This module owns the acceptor, the handshake and the security strength factor (SSF)
//! of a connection; it knows nothing of LDAP messages. The connection code decides when
//! to upgrade (StartTLS) and calls [`Tls::accept`] on the socket it got back from its
//! codec halves. Without a certificate StartTLS is refused with protocolError, "unsupported
//! extended operation" (RFC 4511 §4.14.1: "If the server does not support TLS (whether by
//! design or by current configuration), it returns ... protocolError"; Debian's slapd 2.5
//! answers the same).
//!
//! **Differences from slapd (OpenSSL/GnuTLS):** rustls speaks TLS 1.2 and 1.3 only, with
//! AEAD ciphers; `TLSVerifyClient allow` behaves as `try` (a client certificate that
//! does not verify fails the handshake instead of being ignored), because rustls has no
//! mode that accepts an invalid certificate.

use crate::config::{SecurityConfig, TlsConfig};
use crate::error::LdapError;
use oxldap_proto::ResultCode;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// The StartTLS extended operation (RFC 4511 §4.14.1).
pub const START_TLS_OID: &str = "1.3.6.1.4.1.1466.20037";

/// How long a TLS handshake may take (`ldaps://` or after StartTLS) before the
/// connection is closed, so a client that connects and stays silent holds no
/// connection slot for long.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream a connection can run on: plain TCP, or TLS over it.
pub trait AsyncIo: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncIo for T {}

/// A connection's byte stream, boxed so plain and TLS connections share one code path
/// and a StartTLS upgrade can replace the stream in place.
pub type Io = Box<dyn AsyncIo>;

/// Why the TLS settings cannot be used (the server refuses to start, as slapd).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file could not be read.
    #[error("{directive} {}: {source}", path.display())]
    Read {
        /// The directive naming the file.
        directive: &'static str,
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file holds no PEM item of the expected kind.
    #[error("{directive} {}: no {what} found in the file", path.display())]
    Empty {
        /// The directive naming the file.
        directive: &'static str,
        /// The file.
        path: PathBuf,
        /// What was looked for (certificate, private key).
        what: &'static str,
    },
    /// Only one of `TLSCertificateFile` and `TLSCertificateKeyFile` is set.
    #[error("TLSCertificateFile and TLSCertificateKeyFile must be given together")]
    Incomplete,
    /// `TLSVerifyClient` asks for client certificates but no `TLSCACertificateFile`
    /// says which CAs to trust.
    #[error("TLSVerifyClient {0} needs TLSCACertificateFile")]
    NoClientCa(String),
    /// rustls refused the certificate, key or CA list.
    #[error("TLS: {0}")]
    Rustls(String),
}

/// The server's TLS context: cheap to clone (an `Arc`), shared by every listener and
/// connection.
#[derive(Clone)]
pub struct Tls {
    /// The rustls acceptor built from the configuration.
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Implement by hand: the acceptor holds the private key.
        f.write_str("Tls { .. }")
    }
}

impl Tls {
    /// Builds the TLS context from the configuration; `Ok(None)` when no certificate is
    /// configured (then StartTLS answers protocolError and `ldaps://` cannot be served).
    ///
    /// # Errors
    ///
    /// [`TlsError`] when a file cannot be read or parsed, when the certificate and key
    /// do not belong together, or when client verification lacks a CA.
    pub fn from_config(cfg: &TlsConfig) -> Result<Option<Tls>, TlsError> {
        let (cert_file, key_file) = match (&cfg.certificate_file, &cfg.certificate_key_file) {
            (None, None) => return Ok(None),
            (Some(c), Some(k)) => (c, k),
            _ => return Err(TlsError::Incomplete),
        };
        let certs = read_certs("TLSCertificateFile", cert_file)?;
        let key = read_key(key_file)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        let verify = cfg.verify_client.as_deref().unwrap_or("never");
        let builder = if verify == "never" {
            builder.with_no_client_auth()
        } else {
            let ca_file = cfg
                .ca_certificate_file
                .as_ref()
                .ok_or_else(|| TlsError::NoClientCa(verify.to_string()))?;
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs("TLSCACertificateFile", ca_file)? {
                roots
                    .add(c)
                    .map_err(|e| TlsError::Rustls(format!("TLSCACertificateFile: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            // slapd: `allow` and `try` request a certificate and go on without one;
            // `demand` requires one.
            let verifier = if verify == "demand" {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        };
        let config = builder
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        Ok(Some(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }))
    }

    /// Runs the server side of a TLS handshake on `io` (bounded by
    /// [`HANDSHAKE_TIMEOUT`]) and returns the encrypted stream and its security strength
    /// factor.
    ///
    /// # Errors
    ///
    /// The handshake's IO or TLS error, or `TimedOut`.
    pub async fn accept(&self, io: Io) -> std::io::Result<(Io, u32)> {
        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(io))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        let ssf = stream
            .get_ref()
            .1
            .negotiated_cipher_suite()
            .map_or(0, |s| cipher_ssf(s.suite()));
        Ok((Box::new(stream), ssf))
    }
}

/// The security strength factor of a cipher suite: its key size in bits, as slapd's
/// `ldap_pvt_tls_get_strength`. Every suite rustls offers is an AEAD with a 128- or
/// 256-bit key.
fn cipher_ssf(suite: rustls::CipherSuite) -> u32 {
    use rustls::CipherSuite as C;
    match suite {
        C::TLS13_AES_256_GCM_SHA384
        | C::TLS13_CHACHA20_POLY1305_SHA256
        | C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        | C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        | C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => 256,
        _ => 128,
    }
}

fn open(
    directive: &'static str,
    path: &Path,
) -> Result<std::io::BufReader<std::fs::File>, TlsError> {
    std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|source| TlsError::Read {
            directive,
            path: path.to_path_buf(),
            source,
        })
}

/// Reads every PEM certificate of `path`.
fn read_certs(
    directive: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut rd = open(directive, path)?;
    let certs = rustls_pemfile::certs(&mut rd)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read {
            directive,
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            directive,
            path: path.to_path_buf(),
            what: "certificate",
        });
    }
    Ok(certs)
}

/// Reads the first PEM private key (PKCS#8, PKCS#1 or SEC1) of `path`.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    const DIRECTIVE: &str = "TLSCertificateKeyFile";
    let mut rd = open(DIRECTIVE, path)?;
    rustls_pemfile::private_key(&mut rd)
        .map_err(|source| TlsError::Read {
            directive: DIRECTIVE,
            path: path.to_path_buf(),
            source,
        })?
        .ok_or_else(|| TlsError::Empty {
            directive: DIRECTIVE,
            path: path.to_path_buf(),
            what: "private key",
        })
}

/// What an operation is, for the `security` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// A simple Bind with a name and a password (not anonymous).
    SimpleBind,
    /// An anonymous Bind.
    AnonymousBind,
    /// Add, delete, modify, modify DN or Password Modify: the `update_*` factors apply.
    Update,
    /// Any other operation (search, compare, other extended operations).
    Read,
}

/// Checks the `security` factors (slapd.conf(5)) for an operation of `kind` on a
/// connection whose security strength factor is `ssf` (0 on plain TCP). `simple_bind`
/// is the global `security simple_bind=` factor. StartTLS, Unbind and Abandon are never
/// checked (the caller does not ask).
///
/// The messages are slapd's (`backend_check_restrictions`; checked against Debian's
/// slapd 2.5 for `simple_bind` and `update_ssf` on plain TCP).
///
/// # Errors
///
/// confidentialityRequired (13) when a factor is not met.
pub fn check_security(
    security: &SecurityConfig,
    simple_bind: u32,
    ssf: u32,
    kind: OpKind,
) -> Result<(), LdapError> {
    let refuse = |weak: &'static str, none: &'static str| {
        Err(LdapError::new(
            ResultCode::ConfidentialityRequired,
            if ssf > 0 { weak } else { none },
        ))
    };
    // No ldapi:// and no SASL here: the transport and SASL factors are always 0.
    let (transport, sasl) = (0, 0);
    if kind == OpKind::SimpleBind && ssf < simple_bind {
        return refuse(
            "stronger confidentiality required",
            "confidentiality required",
        );
    }
    if transport < security.transport {
        return refuse(
            "stronger transport confidentiality required",
            "transport confidentiality required",
        );
    }
    if ssf < security.tls {
        return refuse(
            "stronger TLS confidentiality required",
            "TLS confidentiality required",
        );
    }
    if sasl < security.sasl {
        return refuse(
            "stronger SASL confidentiality required",
            "SASL confidentiality required",
        );
    }
    if ssf < security.ssf {
        return refuse(
            "stronger confidentiality required",
            "confidentiality required",
        );
    }
    if kind == OpKind::Update {
        if transport < security.update_transport {
            return refuse(
                "stronger transport confidentiality required for update",
                "transport confidentiality required for update",
            );
        }
        if ssf < security.update_tls {
            return refuse(
                "stronger TLS confidentiality required for update",
                "TLS confidentiality required for update",
            );
        }
        if sasl < security.update_sasl {
            return refuse(
                "stronger SASL confidentiality required for update",
                "SASL confidentiality required for update",
            );
        }
        if ssf < security.update_ssf {
            return refuse(
                "stronger confidentiality required for update",
                "confidentiality required for update",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_factors() {
        let none = SecurityConfig::default();
        for kind in [
            OpKind::SimpleBind,
            OpKind::AnonymousBind,
            OpKind::Update,
            OpKind::Read,
        ] {
            assert!(check_security(&none, 0, 0, kind).is_ok());
        }
        let code = |r: Result<(), LdapError>| r.err().map(|e| (e.code, e.message.to_string()));
        // simple_bind: only simple binds with a password.
        assert_eq!(
            code(check_security(&none, 128, 0, OpKind::SimpleBind)).map(|c| c.0),
            Some(ResultCode::ConfidentialityRequired)
        );
        assert!(check_security(&none, 128, 0, OpKind::AnonymousBind).is_ok());
        assert!(check_security(&none, 128, 0, OpKind::Update).is_ok());
        assert!(check_security(&none, 128, 256, OpKind::SimpleBind).is_ok());
        // update_ssf: writes only.
        let upd = SecurityConfig {
            update_ssf: 128,
            ..SecurityConfig::default()
        };
        assert_eq!(
            code(check_security(&upd, 0, 0, OpKind::Update)),
            Some((
                ResultCode::ConfidentialityRequired,
                "confidentiality required for update".to_string()
            ))
        );
        assert!(check_security(&upd, 0, 0, OpKind::Read).is_ok());
        assert!(check_security(&upd, 0, 128, OpKind::Update).is_ok());
        // ssf: everything; a weaker TLS says "stronger".
        let all = SecurityConfig {
            ssf: 256,
            ..SecurityConfig::default()
        };
        assert_eq!(
            code(check_security(&all, 0, 128, OpKind::Read)).map(|c| c.1),
            Some("stronger confidentiality required".to_string())
        );
        assert!(check_security(&all, 0, 256, OpKind::AnonymousBind).is_ok());
    }

    #[test]
    fn config_errors() {
        assert!(Tls::from_config(&TlsConfig::default())
            .expect("no TLS")
            .is_none());
        let half = TlsConfig {
            certificate_file: Some("/nonexistent/c.pem".into()),
            ..TlsConfig::default()
        };
        assert!(matches!(Tls::from_config(&half), Err(TlsError::Incomplete)));
        let missing = TlsConfig {
            certificate_file: Some("/nonexistent/c.pem".into()),
            certificate_key_file: Some("/nonexistent/k.pem".into()),
            ..TlsConfig::default()
        };
        let e = Tls::from_config(&missing).expect_err("missing file");
        assert!(
            e.to_string()
                .starts_with("TLSCertificateFile /nonexistent/c.pem"),
            "{e}"
        );
    }
}
