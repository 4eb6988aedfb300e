//! The commercial register: an organisation's entry and its legal representatives.
//!
//! konto verifies an organisation by fetching its entry (Handelsregister, Partnerschafts-,
//! Genossenschafts-, Vereins- or Gesellschaftsregister) and matching the verified identity of the
//! person registering it against a listed representative
//! (`konto_core::org::matching_representative`). This module only fetches: a
//! [`RegisterSource`] answers with the entry or with "no such entry"; deciding what a match is
//! worth belongs to the service that asks.
//!
//! [`HttpRegister`] is the one implementation: konto's register protocol over HTTP (below),
//! spoken by the development simulator (`konto-register-sim`) and by whatever adapter stands in
//! front of a real register.
//!
//! # The protocol
//!
//! `GET {base}/v1/entries/{court}/{type}/{number}`, each segment percent-encoded (courts carry
//! spaces, umlauts and parentheses: `Berlin%20(Charlottenburg)` is sent as
//! `Berlin%20%28Charlottenburg%29`).
//!
//! - `200`, `application/json`: the entry (see the simulator's README for an example): `key`
//!   (`court`, `type`, `number`, equal to the key asked for), optional `euid` and
//!   `wirtschafts_id`, `name`, `legal_form`, `address` (`street`, `postal_code`, `locality`,
//!   `country` as ISO 3166-1 alpha-2), `representatives` (`family_name`, `given_names`,
//!   `date_of_birth` as `YYYY-MM-DD`, `role`), `status` (`active` or `deleted`) and
//!   `retrieved_at` (RFC 3339: when the source read the register; a caching source says how
//!   old its copy is). Unknown fields are refused.
//! - `404` with `{"error":"no_such_entry"}`: the register has no such entry. A `404` without
//!   that body is an error, not an empty answer: a wrong base URL must not make every
//!   organisation unknown.
//! - `408`, `429`, `5xx`: unavailable; anything else is a protocol violation.
//!
//! Policy: `https` verified against configured roots only (never the system's), or plain `http`
//! to a loopback address (the simulator, a local adapter); no redirects; a connect timeout and a
//! total timeout per lookup; answers larger than [`DEFAULT_MAX_ANSWER_BYTES`] (configurable) are
//! refused before parsing; every value is checked (validated identifiers, bounded texts without
//! control characters, real calendar dates). Representatives are personal data: they are never
//! logged, [`RegisterEntry`]'s `Debug` shows only how many there are, and error messages never
//! quote the answer. Logs name the key and the outcome only.

mod http;
#[cfg(test)]
mod tests;
mod wire;

use std::fmt;

use async_trait::async_trait;
use konto_core::org::{Euid, RegisterKey, Representative, WirtschaftsId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use http::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_ANSWER_BYTES, DEFAULT_TIMEOUT, HttpRegister,
    HttpRegisterConfig,
};

/// Where an organisation has its seat, as the register lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAddress {
    pub street: String,
    pub postal_code: String,
    pub locality: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: String,
}

/// Whether the entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Active,
    /// Gelöscht: the organisation no longer exists in the register; its former representatives
    /// cannot act for it.
    Deleted,
}

/// An organisation's register entry as a source answered it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterEntry {
    /// Equal to the key asked for (checked).
    pub key: RegisterKey,
    pub euid: Option<Euid>,
    /// The Wirtschafts-Identifikationsnummer, where the source knows it.
    pub wirtschafts_id: Option<WirtschaftsId>,
    /// The registered name (Firma), e.g. "Mustermann Software GmbH".
    pub name: String,
    /// e.g. "Gesellschaft mit beschränkter Haftung".
    pub legal_form: String,
    pub address: OrgAddress,
    /// The legal representatives (personal data: never log them).
    pub representatives: Vec<Representative>,
    pub status: EntryStatus,
    /// When the source read the register.
    #[serde(with = "time::serde::rfc3339")]
    pub retrieved_at: OffsetDateTime,
}

impl fmt::Debug for RegisterEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterEntry")
            .field("key", &self.key)
            .field("euid", &self.euid)
            .field("wirtschafts_id", &self.wirtschafts_id)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("representatives", &self.representatives.len())
            .field("retrieved_at", &self.retrieved_at)
            .finish_non_exhaustive()
    }
}

/// A place to look up register entries.
#[async_trait]
pub trait RegisterSource: Send + Sync {
    /// The entry under `key`; `Ok(None)` when the register has no such entry.
    async fn lookup(&self, key: &RegisterKey) -> Result<Option<RegisterEntry>, RegisterError>;
}

/// Why a lookup gave no answer. [`RegisterError::code`] is the stable machine code.
///
/// `Timeout` and `Unavailable` are worth trying again later; `Malformed` means the source (or
/// konto's configuration of it) is broken.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the register did not answer in time")]
    Timeout,
    #[error("the register cannot be reached: {0}")]
    Unavailable(String),
    #[error("the register's answer is malformed: {0}")]
    Malformed(String),
    #[error("invalid register configuration: {0}")]
    Config(String),
}

impl RegisterError {
    /// Stable machine code, for logs, metrics and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            RegisterError::Timeout => "timeout",
            RegisterError::Unavailable(_) => "unavailable",
            RegisterError::Malformed(_) => "malformed",
            RegisterError::Config(_) => "config",
        }
    }
}
