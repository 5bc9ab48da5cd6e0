//! TLS for gateway tests: a throwaway CA and server certificate made with rcgen, and a raw
//! protocol client (TLS or not) that shows which authentication the gateway asks for.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A throwaway CA and a server certificate it signed, as PEM files.
pub struct Pki {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    pub fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "airlock test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Self {
            ca: write("ca.pem", ca.pem()),
            cert: write("server.pem", cert.pem()),
            key: write("server.key", key.serialize_pem()),
            _dir: dir,
        }
    }

    /// The listener's `tls` line; `extra` goes inside the table (`, required = false`).
    pub fn listener(&self, extra: &str) -> String {
        format!(
            "tls = {{ cert = {:?}, key = {:?}{extra} }}",
            self.cert.display().to_string(),
            self.key.display().to_string()
        )
    }
}

/// Sends a startup packet for `user` and returns the authentication request code the
/// gateway answers with (3: cleartext password, 10: SASL).
pub async fn auth_request<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, user: &str) -> i32 {
    let startup = airlock_pg::encode_startup(&[("user", user), ("database", "local")]);
    stream.write_all(&startup).await.unwrap();
    stream.flush().await.unwrap();
    let (tag, body) = read_message(stream).await;
    assert_eq!(tag, b'R', "{}", String::from_utf8_lossy(&body));
    i32::from_be_bytes(body[..4].try_into().unwrap())
}

/// Answers a cleartext password request; `Ok(())` on AuthenticationOk, else the SQLSTATE and
/// message of the error.
pub async fn answer_password<S>(stream: &mut S, password: &str) -> Result<(), (String, String)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut message = Vec::new();
    airlock_pg::encode_frame(&mut message, b'p', format!("{password}\0").as_bytes());
    stream.write_all(&message).await.unwrap();
    stream.flush().await.unwrap();
    match read_message(stream).await {
        (b'R', body) if body == [0, 0, 0, 0] => Ok(()),
        (b'E', body) => {
            let frame = airlock_pg::Frame {
                tag: b'E',
                body: &body,
            };
            let fields = airlock_pg::parse_error(&frame).unwrap();
            Err((fields.code, fields.message))
        }
        (tag, _) => panic!("unexpected `{}`", char::from(tag)),
    }
}

pub async fn read_message<S: AsyncRead + Unpin>(stream: &mut S) -> (u8, Vec<u8>) {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).await.unwrap();
    let length = u32::from_be_bytes(header[1..].try_into().unwrap()) as usize;
    let mut body = vec![0u8; length - 4];
    stream.read_exact(&mut body).await.unwrap();
    (header[0], body)
}

/// A TLS connection to the gateway that trusts `pki`'s CA.
pub async fn tls_connect(port: u16, pki: &Pki) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(&airlock_pg::encode_ssl_request())
        .await
        .unwrap();
    assert_eq!(tcp.read_u8().await.unwrap(), b'S');
    let mut roots = rustls::RootCertStore::empty();
    for cert in airlock_config::read_certificates(&pki.ca).unwrap() {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}
