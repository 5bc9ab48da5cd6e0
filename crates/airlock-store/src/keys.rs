//! The checkpoint signing key on disk: `<data-dir>/audit-signing.key` holds the 32-byte
//! Ed25519 seed in hex (mode 0600, created from the OS RNG on first use), and
//! `audit-signing.pub` next to it the public key in hex, to hand to auditors.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use airlock_audit::{AuditKey, PublicKey};

use crate::KeyFileError;

/// File name of the signing key inside the data directory.
pub const SIGNING_KEY_FILE: &str = "audit-signing.key";
/// File name of the public key written next to a created signing key.
pub const PUBLIC_KEY_FILE: &str = "audit-signing.pub";

/// Reads the signing key at `path`, creating it (and its public key file) if it is missing.
pub fn load_or_create_signing_key(path: &Path) -> Result<AuditKey, KeyFileError> {
    match fs::metadata(path) {
        Ok(_) => load_signing_key(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => create_signing_key(path),
        Err(source) => Err(KeyFileError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads an existing signing key file.
pub fn load_signing_key(path: &Path) -> Result<AuditKey, KeyFileError> {
    let text = read(path)?;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "audit signing key is readable by other users");
    }
    AuditKey::from_hex(&text).map_err(|source| KeyFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a public key file (64 hex characters), as given to `airlock audit verify --key`.
pub fn load_public_key(path: &Path) -> Result<PublicKey, KeyFileError> {
    PublicKey::from_hex(&read(path)?).map_err(|source| KeyFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Where the public key of the signing key at `key_path` is written.
pub fn public_key_path(key_path: &Path) -> PathBuf {
    key_path.with_file_name(PUBLIC_KEY_FILE)
}

fn create_signing_key(path: &Path) -> Result<AuditKey, KeyFileError> {
    let fail = |reason: String| KeyFileError::Create {
        path: path.to_path_buf(),
        reason,
    };
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| fail(format!("no randomness: {e}")))?;
    let key = AuditKey::from_seed(seed);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    }
    let mut file = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return load_signing_key(path),
        Err(e) => return Err(fail(e.to_string())),
    };
    file.write_all(key.to_hex().as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    file.sync_all().map_err(|e| fail(e.to_string()))?;
    fs::write(public_key_path(path), key.public().to_hex()).map_err(|e| fail(e.to_string()))?;
    tracing::info!(path = %path.display(), key_id = %key.public().key_id(), "created audit signing key");
    Ok(key)
}

fn read(path: &Path) -> Result<String, KeyFileError> {
    fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_once_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(SIGNING_KEY_FILE);
        let created = load_or_create_signing_key(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create_signing_key(&path).unwrap();
        assert_eq!(again.public(), created.public());
        let public = load_public_key(&public_key_path(&path)).unwrap();
        assert_eq!(public, created.public());
    }

    #[test]
    fn a_garbled_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SIGNING_KEY_FILE);
        fs::write(&path, "not a key").unwrap();
        let error = load_or_create_signing_key(&path).unwrap_err().to_string();
        assert!(error.starts_with("audit key `"), "{error}");
        assert!(error.ends_with("is not valid: a key must be 64 hex characters (32 bytes)"));
    }
}
