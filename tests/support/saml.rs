//! A SAML service provider konto did not write: `tests/saml/sp.py`, built on pysaml2 (PyPI),
//! which signs the requests and checks and decrypts konto's responses with xmlsec1.

use std::path::PathBuf;
use std::process::Command;

use konto_core::Level;
use konto_core::client::RelyingParty;
use konto_saml::encrypt::ContentCipher;
use serde_json::Value;

use crate::{TestServer, self_signed};

/// One SP with its own key, registered at a test server: pysaml2 (`sp.py`), or OneLogin's
/// python3-saml (`sp_onelogin.py`, which speaks the same command line for what it can do).
pub struct PySp {
    script: &'static str,
    dir: tempfile::TempDir,
    pub entity: String,
    pub acs: String,
    idp_metadata: PathBuf,
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("saml")
        .join(name)
}

impl PySp {
    /// A new SP named `name` (its entity ID is `https://{name}.example/saml`), with konto's
    /// metadata; not yet registered.
    pub async fn new(server: &TestServer, name: &str) -> PySp {
        PySp::at(
            server,
            name,
            &format!("https://{name}.example/saml"),
            &format!("https://{name}.example/saml/acs"),
        )
        .await
    }

    /// A new SP with this entity ID and ACS URL.
    pub async fn at(server: &TestServer, name: &str, entity: &str, acs: &str) -> PySp {
        let dir = tempfile::tempdir().expect("sp folder");
        let (key, cert) = self_signed(&format!("{name} SP"));
        std::fs::write(dir.path().join("sp.key"), key).expect("sp key");
        std::fs::write(dir.path().join("sp.crt"), cert).expect("sp cert");
        let metadata = reqwest::get(server.url("/saml/metadata"))
            .await
            .expect("metadata")
            .text()
            .await
            .expect("metadata body");
        let idp_metadata = dir.path().join("idp.xml");
        std::fs::write(&idp_metadata, metadata).expect("idp metadata");
        PySp {
            script: "sp.py",
            entity: entity.to_owned(),
            acs: acs.to_owned(),
            dir,
            idp_metadata,
        }
    }

    /// The same, built on OneLogin's python3-saml instead: no akdb extension, the attributes
    /// asked for in its metadata.
    pub async fn onelogin(server: &TestServer, name: &str) -> PySp {
        let mut sp = PySp::new(server, name).await;
        sp.script = "sp_onelogin.py";
        sp
    }

    /// The same SP with another key (for "wrong key" refusals).
    pub async fn with_other_key(&self, server: &TestServer) -> PySp {
        let mut other = PySp::new(server, "other").await;
        other.entity = self.entity.clone();
        other.acs = self.acs.clone();
        other
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("python3")
            .arg(script(self.script))
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--entity", &self.entity, "--acs", &self.acs])
            .arg("--idp-metadata")
            .arg(&self.idp_metadata)
            .args(args)
            .output()
            .expect("python3 runs (scripts/setup installs pysaml2, python3-saml and xmlsec1)");
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{}",
            self.script,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// The SP's metadata, as pysaml2 writes it.
    pub fn metadata(&self) -> String {
        self.run(&["metadata"])
    }

    /// Registers the SP at `server` as relying party `id`.
    pub async fn register(&self, server: &TestServer, id: &str, min_level: Level) {
        let party = RelyingParty {
            id: id.into(),
            name: "Pysaml2 Test Service".into(),
            scopes: Vec::new(),
            first_party: false,
            min_level,
            allow_temporary_login: false,
            service_groups: Vec::new(),
            postbox_webhook: None,
            created_at: server.clock_now(),
        };
        konto_saml::idp::register(
            server.store.as_ref(),
            &self.metadata(),
            party,
            ContentCipher::Aes256Gcm,
            server.clock_now(),
        )
        .await
        .expect("register the SP");
    }

    /// A signed AuthnRequest: `{"id", "url"}` for the Redirect binding, `{"id", "action",
    /// "SAMLRequest", "RelayState"}` for POST. `extra`: more `sp.py request` arguments.
    pub fn request(&self, binding: &str, extra: &[&str]) -> Value {
        let mut args = vec!["request", "--binding", binding];
        args.extend_from_slice(extra);
        serde_json::from_str(&self.run(&args)).expect("request json")
    }

    /// An SP-initiated signed `LogoutRequest` (Redirect binding): `{"id", "url"}`.
    pub fn logout_request(&self, name_id: &str, session_index: &str) -> Value {
        serde_json::from_str(&self.run(&[
            "logout-request",
            "--name-id",
            name_id,
            "--session-index",
            session_index,
        ]))
        .expect("logout request json")
    }

    /// konto's `LogoutRequest` arriving at `url` (this SP's logout endpoint), checked and
    /// answered: `{"name_id", "session_index", "url"}` (the answer's address at konto).
    pub fn logout_answer(&self, url: &str) -> Value {
        serde_json::from_str(&self.run(&["logout-answer", "--url", url])).expect("answer json")
    }

    /// konto's `LogoutResponse` arriving at `url`: `{"signed", "codes", "in_response_to"}`.
    pub fn logout_result(&self, url: &str) -> Value {
        serde_json::from_str(&self.run(&["logout-result", "--url", url])).expect("result json")
    }

    /// pysaml2's reading of a `SAMLResponse`: `{"ok": true, "attributes", "trust_levels",
    /// "name_id", "class_ref", …}` or `{"ok": false, "error", "message"}`, with `raw` status.
    pub fn response(&self, request_id: Option<&str>, saml_response: &str) -> Value {
        let mut args = vec!["response", "--response", saml_response];
        if let Some(id) = request_id {
            args.extend_from_slice(&["--id", id]);
        }
        serde_json::from_str(&self.run(&args)).expect("response json")
    }
}
