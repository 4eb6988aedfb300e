//! The eID card through a BSI TR-03130 eID-Server (level high).
//! PLACEHOLDER with the agreed interface until the eID branch is merged; replaced by it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use crate::Verified;

#[derive(Debug, thiserror::Error)]
pub enum EidError {
    #[error("cancelled")]
    Cancelled,
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl EidError {
    pub fn code(&self) -> &'static str {
        match self {
            EidError::Cancelled => "cancelled",
            EidError::Unavailable(_) => "unavailable",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EidSession {
    pub session_id: String,
    pub ecard_server_address: Option<String>,
    pub psk_id: String,
    pub psk_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EidIdentity {
    pub restricted_id: String,
}

impl EidIdentity {
    pub fn into_verified(self) -> Verified {
        Verified::new(konto_core::amr::AuthenticatorKind::Eid, Some(self.restricted_id), Vec::new())
    }
}

pub struct EidConfig {
    pub server_url: Url,
    pub client_cert_pem: Vec<u8>,
    pub client_key_pem: Vec<u8>,
    pub server_ca_pem: Vec<u8>,
    pub timeout: std::time::Duration,
    pub eid_client_url: Url,
}

pub struct EidConnector;

impl EidConnector {
    pub fn new(_c: EidConfig) -> Result<EidConnector, EidError> {
        Err(EidError::Unavailable("placeholder".into()))
    }
    pub async fn start(&self) -> Result<EidSession, EidError> {
        Err(EidError::Unavailable("placeholder".into()))
    }
    pub fn tc_token(&self, _s: &EidSession, _refresh: &Url, _err: Option<&Url>) -> String {
        String::new()
    }
    pub fn client_url(&self, tc: &Url) -> Url {
        tc.clone()
    }
    pub async fn result(&self, _s: &EidSession, _now: OffsetDateTime) -> Result<EidIdentity, EidError> {
        Err(EidError::Unavailable("placeholder".into()))
    }
}

pub fn check_refresh_query(_q: Option<&str>) -> Result<(), EidError> {
    Ok(())
}
