//! Reading the PEM files a configuration names (TLS certificates, private keys, CA bundles),
//! with errors that name the file and say what was expected. Used by validation (every file
//! checked, every problem reported) and by the gateway when it loads them at start.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A PEM file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not valid PEM: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("`{path}` holds no certificate (expected `-----BEGIN CERTIFICATE-----` blocks)")]
    NoCertificate { path: PathBuf },
    #[error(
        "`{path}` holds no private key (expected `-----BEGIN PRIVATE KEY-----`, \
         `RSA PRIVATE KEY` or `EC PRIVATE KEY`)"
    )]
    NoKey { path: PathBuf },
}

/// Every certificate in a PEM file, in order (a chain: leaf first). Other blocks (keys) are
/// skipped, so a combined file works; a file with no certificate is an error.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let bytes = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| malformed(path, &e))?;
    if certificates.is_empty() {
        return Err(PemError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => PemError::NoKey {
            path: path.to_owned(),
        },
        other => malformed(path, &other),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, PemError> {
    std::fs::read(path).map_err(|source| PemError::Read {
        path: path.to_owned(),
        source,
    })
}

fn malformed(path: &Path, error: &pem::Error) -> PemError {
    // The parser's messages quote the offending line; keep only its kind (a key file's
    // contents must not end up in an error).
    let reason = match error {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a section is not valid base64",
        pem::Error::SectionTooLarge => "a section is too large",
        _ => "it cannot be read as PEM",
    };
    PemError::Malformed {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "MIIBAAAA\n";

    fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn files_are_read_with_errors_that_name_them() {
        let dir = tempfile::tempdir().unwrap();
        let cert = format!("-----BEGIN CERTIFICATE-----\n{BLOCK}-----END CERTIFICATE-----\n");
        let key = format!("-----BEGIN PRIVATE KEY-----\n{BLOCK}-----END PRIVATE KEY-----\n");
        let both = file(dir.path(), "both.pem", &format!("{key}{cert}{cert}"));
        assert_eq!(read_certificates(&both).unwrap().len(), 2);
        assert!(read_private_key(&both).is_ok());

        let only_key = file(dir.path(), "key.pem", &key);
        let error = read_certificates(&only_key).unwrap_err().to_string();
        assert!(error.contains("key.pem` holds no certificate"), "{error}");
        let only_cert = file(dir.path(), "cert.pem", &cert);
        let error = read_private_key(&only_cert).unwrap_err().to_string();
        assert!(error.contains("cert.pem` holds no private key"), "{error}");

        let missing = dir.path().join("missing.pem");
        let error = read_certificates(&missing).unwrap_err().to_string();
        assert!(error.starts_with("cannot read `"), "{error}");
        assert!(error.contains("missing.pem`"), "{error}");

        let secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0!!\n-----END PRIVATE KEY-----\n";
        let broken = file(dir.path(), "broken.pem", secret);
        let error = read_private_key(&broken).unwrap_err().to_string();
        assert!(error.contains("is not valid PEM"), "{error}");
        assert!(
            !error.contains("c2VjcmV0"),
            "key material in an error: {error}"
        );
    }
}
