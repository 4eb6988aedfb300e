//! Layered configuration: built-in defaults → the TOML file (`config/konto.toml` or `--config`)
//! → `KONTO_*` environment variables (`__` separates sections, e.g. `KONTO_SERVER__LISTEN`;
//! secrets come from files: `KONTO_SECRETS__MASTER_KEY_FILE`). Unknown keys in the file are
//! errors; unknown `KONTO_*` variables are reported and ignored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use konto_web::Config;

pub(crate) const DEFAULT_FILE: &str = "config/konto.toml";

/// Every configuration key as `section.key`.
fn known_keys(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                serde_json::Value::Object(_) => known_keys(v, &key, out),
                _ => {
                    out.insert(key);
                }
            }
        }
    }
}

/// The configuration and what was wrong but not fatal.
pub(crate) fn load(file: Option<&Path>, base: Config) -> Result<(Config, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut figment = Figment::from(Serialized::defaults(&base));
    match file {
        Some(path) => {
            if !path.exists() {
                anyhow::bail!("the configuration file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        None => {
            if Path::new(DEFAULT_FILE).exists() {
                figment = figment.merge(Toml::file_exact(DEFAULT_FILE));
            }
        }
    }
    let mut known = BTreeSet::new();
    known_keys(&serde_json::to_value(&base)?, "", &mut known);
    for (name, _) in std::env::vars() {
        let Some(rest) = name.strip_prefix("KONTO_") else {
            continue;
        };
        // variables of the test suite
        if rest.starts_with("TEST_") {
            continue;
        }
        let key = rest.to_lowercase().replace("__", ".");
        if !known.contains(&key) {
            warnings.push(format!("ignoring unknown environment variable {name}"));
        }
    }
    // figment hands the filter the key with its original case
    let env = Env::prefixed("KONTO_")
        .split("__")
        .filter(move |k| known.contains(&k.as_str().to_lowercase()));
    figment = figment.merge(env);
    let config: Config = figment.extract().context("invalid configuration")?;
    Ok((config, warnings))
}

/// The defaults of development mode (`konto dev`): everything a newcomer needs from the
/// repository itself.
pub(crate) fn development_defaults() -> Config {
    let mut c = Config {
        development: true,
        ..Config::default()
    };
    c.server.issuer = "http://localhost:8080".into();
    c.keys.import_dir = Some(PathBuf::from("keys-dev/signing"));
    c.secrets.master_key_file = Some(PathBuf::from("keys-dev/master.key"));
    c.mail.file_dir = Some(PathBuf::from("data/mail"));
    c.elster.enabled = true;
    c.elster.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 8443)));
    c.elster.public_url = Some("https://localhost:8443".into());
    c.elster.tls_cert_file = Some(PathBuf::from("keys-dev/tls/server.fullchain.pem"));
    c.elster.tls_key_file = Some(PathBuf::from("keys-dev/tls/server.key.pem"));
    c.elster.trust_anchors_file = Some(PathBuf::from("keys-dev/elster/ca-chain.pem"));
    c.elster.crl_file = Some(PathBuf::from("keys-dev/elster/crl.pem"));
    c.eid.enabled = true;
    c.eid.client_cert_file = Some(PathBuf::from("keys-dev/eid/client.pem"));
    c.eid.client_key_file = Some(PathBuf::from("keys-dev/eid/client.key"));
    c.eid.server_ca_file = Some(PathBuf::from("keys-dev/eid/ca.pem"));
    // the commercial-register simulator, started by `konto dev` when no url is set
    c.register.enabled = true;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_known() {
        let mut keys = BTreeSet::new();
        known_keys(
            &serde_json::to_value(Config::default()).unwrap(),
            "",
            &mut keys,
        );
        assert!(keys.contains("server.listen"));
        assert!(keys.contains("secrets.master_key_file"));
        assert!(keys.contains("elster.crl_url"));
    }

    /// Defaults < file < environment, with `__` between section and key.
    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail closure returns figment::Error"
    )]
    fn the_environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "konto.toml",
                "[server]\nlisten = \"127.0.0.1:9999\"\n[login]\nargon2_iterations = 3\n",
            )?;
            jail.set_env("KONTO_LOGIN__ARGON2_ITERATIONS", "4");
            jail.set_env("KONTO_SECRETS__MASTER_KEY_FILE", "/run/secrets/key");
            jail.set_env("KONTO_NO__SUCH_KEY", "1");
            let (c, warnings) = load(Some(Path::new("konto.toml")), Config::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(c.server.listen.port(), 9999, "from the file");
            assert_eq!(c.login.argon2_iterations, 4, "the environment wins");
            assert_eq!(
                c.secrets.master_key_file.as_deref(),
                Some(Path::new("/run/secrets/key"))
            );
            assert!(warnings.iter().any(|w| w.contains("KONTO_NO__SUCH_KEY")));
            jail.set_env("KONTO_LOGIN__ARGON2_ITERATIONS", "many");
            assert!(
                load(Some(Path::new("konto.toml")), Config::default()).is_err(),
                "a bad value is an error"
            );
            Ok(())
        });
    }

    /// Runs in a `Jail` too: the jail's lock keeps the environment test's
    /// variables from leaking into this one.
    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail closure returns figment::Error"
    )]
    fn unknown_file_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[server]\nlisen = \"127.0.0.1:1\"\n")?;
            let err = load(Some(Path::new("bad.toml")), Config::default()).unwrap_err();
            assert!(format!("{err:#}").contains("lisen"), "{err:#}");
            jail.create_file("good.toml", "[server]\nlisten = \"127.0.0.1:9999\"\n")?;
            let (c, _) =
                load(Some(Path::new("good.toml")), Config::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.server.listen.port(), 9999);
            Ok(())
        });
    }
}
