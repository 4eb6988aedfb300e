//! Levels of assurance.
//!
//! konto keeps one ordered level inside and converts at the edges to whatever vocabulary a relying
//! party speaks (`reference.md` §1): eIDAS URIs, BundID's `STORK-QAA-Level-N` names, the BSI URIs
//! and AKDB's `TrustLevel` words. Parsing is strict: a value that is not in any vocabulary is an
//! error, never silently a default level.
//!
//! eIDAS defines no URI below `low`, so konto names `basic` with a URI in the deployment's own
//! namespace, `{issuer}/loa/basic` (see [`AcrCodec`]); konto serves a page at that address that
//! explains it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A level of assurance, ordered `Basic < Low < Substantial < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Self-registered account, username and password, self-asserted data.
    Basic,
    /// eIDAS "low" (BSI "normal").
    Low,
    /// eIDAS "substantial": the ELSTER software certificate.
    Substantial,
    /// eIDAS "high": the eID card (Online-Ausweis).
    High,
}

/// A value that names no level in any vocabulary konto accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level of assurance: {0:?}")]
pub struct UnknownLevel(pub String);

pub const EIDAS_LOW: &str = "http://eidas.europa.eu/LoA/low";
pub const EIDAS_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
pub const EIDAS_HIGH: &str = "http://eidas.europa.eu/LoA/high";
const EIDAS_NOT_NOTIFIED_PREFIX: &str = "http://eidas.europa.eu/NotNotified/LoA/";
pub const BSI_NORMAL: &str = "http://bsi.bund.de/eID/LoA/normal";
pub const BSI_SUBSTANTIAL: &str = "http://bsi.bund.de/eID/LoA/substantiell";
pub const BSI_HIGH: &str = "http://bsi.bund.de/eID/LoA/hoch";

impl Level {
    pub const ALL: [Level; 4] = [Level::Basic, Level::Low, Level::Substantial, Level::High];

    /// konto's own name: `basic`, `low`, `substantial`, `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Basic => "basic",
            Level::Low => "low",
            Level::Substantial => "substantial",
            Level::High => "high",
        }
    }

    /// The eIDAS URI; `None` for `basic`, which eIDAS does not define.
    pub fn eidas_uri(self) -> Option<&'static str> {
        match self {
            Level::Basic => None,
            Level::Low => Some(EIDAS_LOW),
            Level::Substantial => Some(EIDAS_SUBSTANTIAL),
            Level::High => Some(EIDAS_HIGH),
        }
    }

    /// BundID's STORK name (not a URI; used as SAML `AuthnContextClassRef`).
    pub fn stork(self) -> &'static str {
        match self {
            Level::Basic => "STORK-QAA-Level-1",
            Level::Low => "STORK-QAA-Level-2",
            Level::Substantial => "STORK-QAA-Level-3",
            Level::High => "STORK-QAA-Level-4",
        }
    }

    /// The BSI TR-03130 URI; `None` for `basic`.
    pub fn bsi_uri(self) -> Option<&'static str> {
        match self {
            Level::Basic => None,
            Level::Low => Some(BSI_NORMAL),
            Level::Substantial => Some(BSI_SUBSTANTIAL),
            Level::High => Some(BSI_HIGH),
        }
    }

    /// AKDB's `TrustLevel` word as BundID writes it on SAML attributes.
    pub fn akdb_trust_level(self) -> &'static str {
        match self {
            Level::Basic => "UNTERGEORDNET",
            Level::Low => "NORMAL",
            Level::Substantial => "SUBSTANTIELL",
            Level::High => "HOCH",
        }
    }

    /// Parses every vocabulary except konto's `basic` URI, which needs the issuer: see [`AcrCodec`].
    pub fn parse_any(value: &str) -> Result<Level, UnknownLevel> {
        let v = value.trim();
        let level = match v {
            "basic" => Level::Basic,
            "low" => Level::Low,
            "substantial" => Level::Substantial,
            "high" => Level::High,
            EIDAS_LOW | BSI_NORMAL => Level::Low,
            EIDAS_SUBSTANTIAL | BSI_SUBSTANTIAL => Level::Substantial,
            EIDAS_HIGH | BSI_HIGH => Level::High,
            "STORK-QAA-Level-1" => Level::Basic,
            "STORK-QAA-Level-2" => Level::Low,
            "STORK-QAA-Level-3" => Level::Substantial,
            "STORK-QAA-Level-4" => Level::High,
            _ => {
                if let Some(rest) = v.strip_prefix(EIDAS_NOT_NOTIFIED_PREFIX) {
                    return match rest {
                        "low" => Ok(Level::Low),
                        "substantial" => Ok(Level::Substantial),
                        "high" => Ok(Level::High),
                        _ => Err(UnknownLevel(value.to_owned())),
                    };
                }
                return Level::parse_akdb(v);
            }
        };
        Ok(level)
    }

    /// AKDB trust levels: `UNTERGEORDNET`, `NORMAL`, `SUBSTANTIELL`, `HOCH` and the words of its
    /// documentation, `Basisregistrierung`, `Niedrig`, `Substantiell`, `Hoch` (case-insensitive).
    pub fn parse_akdb(value: &str) -> Result<Level, UnknownLevel> {
        match value.trim().to_ascii_lowercase().as_str() {
            "untergeordnet" | "basisregistrierung" => Ok(Level::Basic),
            "normal" | "niedrig" => Ok(Level::Low),
            "substantiell" => Ok(Level::Substantial),
            "hoch" => Ok(Level::High),
            _ => Err(UnknownLevel(value.to_owned())),
        }
    }

    /// Session limits of TR-03160-1 as quoted by BundID (`reference.md` §1).
    pub fn session_limits(self) -> SessionLimits {
        const MIN: u64 = 60;
        const HOUR: u64 = 3600;
        match self {
            Level::Basic | Level::Low => SessionLimits::new(12 * HOUR, 60 * MIN),
            Level::Substantial => SessionLimits::new(2 * HOUR, 30 * MIN),
            Level::High => SessionLimits::new(30 * MIN, 5 * MIN),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = UnknownLevel;
    /// konto's own names only (`basic`, `low`, `substantial`, `high`), as in storage and configuration.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "basic" => Ok(Level::Basic),
            "low" => Ok(Level::Low),
            "substantial" => Ok(Level::Substantial),
            "high" => Ok(Level::High),
            other => Err(UnknownLevel(other.to_owned())),
        }
    }
}

/// How long a session may live and sit idle at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub max_session: Duration,
    pub max_idle: Duration,
}

impl SessionLimits {
    const fn new(max_session_secs: u64, max_idle_secs: u64) -> Self {
        SessionLimits {
            max_session: Duration::from_secs(max_session_secs),
            max_idle: Duration::from_secs(max_idle_secs),
        }
    }
}

/// The vocabulary a relying party wants `acr` values in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcrVocabulary {
    /// eIDAS URIs, and konto's `{issuer}/loa/basic` for `basic` (the default).
    #[default]
    Eidas,
    /// BundID's `STORK-QAA-Level-N`.
    Stork,
}

impl AcrVocabulary {
    pub fn as_str(self) -> &'static str {
        match self {
            AcrVocabulary::Eidas => "eidas",
            AcrVocabulary::Stork => "stork",
        }
    }
}

impl FromStr for AcrVocabulary {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "eidas" => Ok(AcrVocabulary::Eidas),
            "stork" => Ok(AcrVocabulary::Stork),
            other => Err(UnknownLevel(other.to_owned())),
        }
    }
}

/// Converts levels to and from `acr` values for one deployment (whose issuer names `basic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcrCodec {
    basic_uri: String,
}

impl AcrCodec {
    /// `issuer` without a trailing slash, e.g. `https://konto.example`.
    pub fn new(issuer: &str) -> Self {
        AcrCodec {
            basic_uri: format!("{}/loa/basic", issuer.trim_end_matches('/')),
        }
    }

    pub fn basic_uri(&self) -> &str {
        &self.basic_uri
    }

    pub fn to_acr(&self, level: Level, vocabulary: AcrVocabulary) -> String {
        match vocabulary {
            AcrVocabulary::Stork => level.stork().to_owned(),
            AcrVocabulary::Eidas => match level.eidas_uri() {
                Some(uri) => uri.to_owned(),
                None => self.basic_uri.clone(),
            },
        }
    }

    /// Every `acr` value konto understands, in every vocabulary.
    pub fn parse(&self, value: &str) -> Result<Level, UnknownLevel> {
        if value.trim() == self.basic_uri {
            return Ok(Level::Basic);
        }
        Level::parse_any(value)
    }

    /// The values published as `acr_values_supported`.
    pub fn supported_values(&self) -> Vec<String> {
        let mut values = Vec::new();
        for level in Level::ALL {
            values.push(self.to_acr(level, AcrVocabulary::Eidas));
        }
        for level in Level::ALL {
            values.push(level.stork().to_owned());
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        assert!(Level::Basic < Level::Low);
        assert!(Level::Low < Level::Substantial);
        assert!(Level::Substantial < Level::High);
        assert_eq!(Level::High.min(Level::Basic), Level::Basic);
    }

    #[test]
    fn every_vocabulary_round_trips() {
        let codec = AcrCodec::new("https://konto.example/");
        for level in Level::ALL {
            assert_eq!(
                codec.parse(&codec.to_acr(level, AcrVocabulary::Eidas)),
                Ok(level)
            );
            assert_eq!(
                codec.parse(&codec.to_acr(level, AcrVocabulary::Stork)),
                Ok(level)
            );
            assert_eq!(Level::parse_any(level.stork()), Ok(level));
            assert_eq!(Level::parse_akdb(level.akdb_trust_level()), Ok(level));
            assert_eq!(level.as_str().parse::<Level>(), Ok(level));
            if let Some(uri) = level.bsi_uri() {
                assert_eq!(Level::parse_any(uri), Ok(level));
            }
        }
        assert_eq!(codec.basic_uri(), "https://konto.example/loa/basic");
    }

    #[test]
    fn akdb_documentation_words_are_accepted() {
        assert_eq!(Level::parse_akdb("Basisregistrierung"), Ok(Level::Basic));
        assert_eq!(Level::parse_akdb("Niedrig"), Ok(Level::Low));
        assert_eq!(Level::parse_akdb("Substantiell"), Ok(Level::Substantial));
        assert_eq!(Level::parse_akdb("Hoch"), Ok(Level::High));
    }

    #[test]
    fn not_notified_uris_map_to_their_level() {
        assert_eq!(
            Level::parse_any("http://eidas.europa.eu/NotNotified/LoA/substantial"),
            Ok(Level::Substantial)
        );
    }

    #[test]
    fn unknown_values_are_errors_not_defaults() {
        for bad in [
            "",
            "http://eidas.europa.eu/LoA/test",
            "http://eidas.europa.eu/LoA/medium",
            "STORK-QAA-Level-5",
            "stork-qaa-level-1",
            "https://other.example/loa/basic",
        ] {
            assert!(
                AcrCodec::new("https://konto.example").parse(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn session_limits_follow_tr_03160() {
        assert_eq!(
            Level::Basic.session_limits().max_session.as_secs(),
            12 * 3600
        );
        assert_eq!(Level::Low.session_limits().max_idle.as_secs(), 3600);
        assert_eq!(
            Level::Substantial.session_limits().max_session.as_secs(),
            7200
        );
        assert_eq!(Level::Substantial.session_limits().max_idle.as_secs(), 1800);
        assert_eq!(Level::High.session_limits().max_session.as_secs(), 1800);
        assert_eq!(Level::High.session_limits().max_idle.as_secs(), 300);
    }
}
