//! The TLS parts of a configuration: a listener's `tls` table and `auth` method, a
//! connection's `tls` mode and CA file. The PEM files they name are read here too, so
//! `airlock config validate` reports a missing or wrong certificate with its path.

use std::path::Path;

use toml::Table;

use crate::fields::Fields;
use crate::model::{ClientAuth, TlsConfig, UpstreamTls};
use crate::pem::{read_certificates, read_private_key};

/// A listener's `tls = { cert, key, required }`.
pub(crate) fn listener_tls(
    path: String,
    table: Table,
    base: &Path,
    parent: &mut Fields<'_>,
) -> Option<TlsConfig> {
    let mut problems = Vec::new();
    let mut f = Fields::new(path, table, &mut problems);
    let cert = f.required_string("cert").map(|c| base.join(c));
    let key = f.required_string("key").map(|k| base.join(k));
    let required = f.boolean("required").unwrap_or(true);
    if let Some(cert) = &cert
        && let Err(error) = read_certificates(cert)
    {
        f.problem("cert", error.to_string());
    }
    if let Some(key) = &key
        && let Err(error) = read_private_key(key)
    {
        f.problem("key", error.to_string());
    }
    f.finish();
    for p in problems {
        parent.problem_at(p);
    }
    Some(TlsConfig {
        cert: cert?,
        key: key?,
        required,
    })
}

/// A listener's `auth`; `password` (cleartext) only where TLS protects it.
pub(crate) fn client_auth(f: &mut Fields<'_>, has_tls: bool) -> Option<ClientAuth> {
    let auth = match f.string("auth").as_deref() {
        None | Some("scram-sha-256") => ClientAuth::ScramSha256,
        Some("password") => ClientAuth::Password,
        Some(other) => {
            f.problem(
                "auth",
                format!("unknown method `{other}`; use `scram-sha-256` or `password`"),
            );
            return None;
        }
    };
    if auth == ClientAuth::Password && !has_tls {
        f.problem(
            "auth",
            "`password` sends the API key in cleartext, so it needs TLS: add \
             `tls = { cert = …, key = … }` to this listener or use `scram-sha-256`",
        );
        return None;
    }
    Some(auth)
}

/// A connection's `tls` mode and `tls_ca_file`.
pub(crate) fn upstream_tls(f: &mut Fields<'_>, base: &Path) -> Option<UpstreamTls> {
    let mode = f.string("tls");
    let ca_file = f.string("tls_ca_file").map(|p| base.join(p));
    let tls = match (mode.as_deref(), ca_file) {
        (None | Some("disable"), None) => UpstreamTls::Disable,
        (Some("require"), None) => UpstreamTls::Require,
        (Some("verify-full"), Some(ca_file)) => {
            if let Err(error) = read_certificates(&ca_file) {
                f.problem("tls_ca_file", error.to_string());
                return None;
            }
            UpstreamTls::VerifyFull { ca_file }
        }
        (Some("verify-full"), None) => {
            f.problem(
                "tls_ca_file",
                "is required with `tls = \"verify-full\"`: the CA certificates (PEM) that \
                 signed the server's certificate",
            );
            return None;
        }
        (None | Some("disable" | "require"), Some(_)) => {
            f.problem(
                "tls_ca_file",
                "is only used with `tls = \"verify-full\"` (`require` encrypts without \
                 checking the certificate)",
            );
            return None;
        }
        (Some(other), _) => {
            f.problem(
                "tls",
                format!("unknown mode `{other}`; use `disable`, `require` or `verify-full`"),
            );
            return None;
        }
    };
    Some(tls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Problem;

    fn upstream(text: &str, base: &Path) -> (Option<UpstreamTls>, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut f = Fields::new(
            "connections[0]",
            toml::from_str(text).unwrap(),
            &mut problems,
        );
        let tls = upstream_tls(&mut f, base);
        f.finish();
        (tls, problems)
    }

    #[test]
    fn upstream_modes_and_their_ca_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
        std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
        let base = dir.path();
        assert_eq!(upstream("", base).0, Some(UpstreamTls::Disable));
        assert_eq!(
            upstream("tls = \"require\"", base).0,
            Some(UpstreamTls::Require)
        );
        assert_eq!(
            upstream("tls = \"verify-full\"\ntls_ca_file = \"ca.pem\"", base).0,
            Some(UpstreamTls::VerifyFull {
                ca_file: base.join("ca.pem")
            })
        );
        for (text, expected) in [
            (
                "tls = \"verify-full\"",
                "connections[0].tls_ca_file: is required",
            ),
            (
                "tls = \"require\"\ntls_ca_file = \"ca.pem\"",
                "connections[0].tls_ca_file: is only used with",
            ),
            (
                "tls = \"prefer\"",
                "connections[0].tls: unknown mode `prefer`",
            ),
            (
                "tls = \"verify-full\"\ntls_ca_file = \"nope.pem\"",
                "connections[0].tls_ca_file: cannot read `",
            ),
        ] {
            let (tls, problems) = upstream(text, base);
            assert_eq!(tls, None, "{text}");
            assert_eq!(problems.len(), 1, "{text}: {problems:?}");
            let found = problems[0].to_string();
            assert!(found.starts_with(expected), "{text}: {found}");
        }
    }
}
