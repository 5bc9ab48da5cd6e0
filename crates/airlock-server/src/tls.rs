//! TLS configurations built once at start, with rustls and the aws-lc-rs provider: the
//! server side of a listener (its certificate and key) and the client side of a connection's
//! upstream leg (`require`: encrypted, unverified; `verify-full`: chain and host name checked
//! against the connection's CA file).

use std::path::PathBuf;
use std::sync::Arc;

use airlock_config::{
    Config, PemError, Problem, TlsConfig, UpstreamTls, read_certificates, read_private_key,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, DigitallySignedStruct, InconsistentKeys, RootCertStore, ServerConfig,
    SignatureScheme,
};

/// The ALPN protocol name PostgreSQL 17 registered; servers and clients that send ALPN use it.
const ALPN: &[u8] = b"postgresql";

/// A TLS file or setting the gateway cannot use.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("the private key in `{key}` does not belong to the certificate in `{cert}`")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot use the certificate in `{cert}` with the key in `{key}`: {reason}")]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("`{path}` holds no CA certificate rustls can use ({ignored} could not be parsed)")]
    NoCa { path: PathBuf, ignored: usize },
    #[error("host `{0}` is not a DNS name or IP address a certificate can be checked against")]
    ServerName(String),
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// The server side of a listener: its certificate chain and key, loaded and checked (the key
/// must belong to the leaf certificate).
pub fn server_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_certificates(&tls.cert)?;
    let key = read_private_key(&tls.key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| match error {
            rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                TlsError::KeyMismatch {
                    cert: tls.cert.clone(),
                    key: tls.key.clone(),
                }
            }
            other => TlsError::Unusable {
                cert: tls.cert.clone(),
                key: tls.key.clone(),
                reason: other.to_string(),
            },
        })?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The client side of an upstream leg, or `None` for `disable`.
pub fn client_config(tls: &UpstreamTls) -> Result<Option<Arc<ClientConfig>>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let mut config = match tls {
        UpstreamTls::Disable => return Ok(None),
        UpstreamTls::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth(),
        UpstreamTls::VerifyFull { ca_file } => {
            let mut roots = RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(read_certificates(ca_file)?);
            if added == 0 {
                return Err(TlsError::NoCa {
                    path: ca_file.clone(),
                    ignored,
                });
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Some(Arc::new(config)))
}

/// The client side of outgoing notices (Slack, Teams, webhooks): public servers, checked
/// against Mozilla's root certificates.
pub fn public_client_config() -> Result<Arc<ClientConfig>, TlsError> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name a connection's certificate is checked against (and sent as SNI): its host.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_owned()).map_err(|_| TlsError::ServerName(host.to_owned()))
}

/// Everything about TLS that only loading can tell (a key that does not belong to its
/// certificate, an unsupported key type, a CA file without a usable certificate, a host no
/// certificate can name), for every listener and connection, with their paths.
pub fn check_tls(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, listener) in config.listeners.iter().enumerate() {
        if let Some(Err(error)) = listener.tls.as_ref().map(server_config) {
            problems.push(Problem {
                path: format!("listeners[{i}].tls"),
                reason: error.to_string(),
            });
        }
    }
    for (i, connection) in config.connections.iter().enumerate() {
        if let Err(error) = crate::state::upstream_tls(connection) {
            problems.push(Problem {
                path: format!("connections[{i}].tls"),
                reason: error.to_string(),
            });
        }
    }
    problems
}

/// `tls = "require"`: any certificate is accepted (libpq's `sslmode=require`), but the
/// handshake's signatures are still checked against the certificate the server presented.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
