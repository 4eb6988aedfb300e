//! The data file: the test companies, read strictly and checked once at start.

use std::collections::BTreeMap;

use konto_core::org::{Euid, RegisterKey, WirtschaftsId};
use serde::{Deserialize, Serialize};

use crate::SimError;

/// The companies committed with the crate (`companies.json`).
pub const DEFAULT_DATA: &str = include_str!("../companies.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    companies: Vec<Company>,
}

/// One company, as the data file holds it and as the simulator serves it (plus `retrieved_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    pub key: Key,
    pub euid: Option<Euid>,
    pub wirtschafts_id: Option<WirtschaftsId>,
    pub name: String,
    pub legal_form: String,
    pub address: Address,
    pub representatives: Vec<Person>,
    pub status: Status,
}

/// A register key as written in the file; checked with [`RegisterKey::new`] on load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub court: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub street: String,
    pub postal_code: String,
    pub locality: String,
    pub country: String,
}

/// A legal representative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub family_name: String,
    pub given_names: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub role: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Deleted,
}

/// The companies by key.
#[derive(Debug, Clone, Default)]
pub struct Companies {
    by_key: BTreeMap<RegisterKey, Company>,
}

impl Companies {
    /// Parses and checks a data file: every key valid and canonical (as [`RegisterKey::new`]
    /// prints it), each key once.
    pub fn parse(json: &str) -> Result<Companies, SimError> {
        let file: File = serde_json::from_str(json).map_err(|e| SimError::Data(e.to_string()))?;
        let mut by_key = BTreeMap::new();
        for company in file.companies {
            let k = &company.key;
            let key = RegisterKey::new(&k.court, &k.kind, &k.number)
                .map_err(|e| SimError::Data(format!("{} {}: {e}", k.court, k.number)))?;
            if key.court != k.court || key.number != k.number {
                return Err(SimError::Data(format!(
                    "{key}: write the key without surrounding spaces"
                )));
            }
            if by_key.insert(key.clone(), company).is_some() {
                return Err(SimError::Data(format!("{key} is listed twice")));
            }
        }
        Ok(Companies { by_key })
    }

    /// The companies of [`DEFAULT_DATA`].
    pub fn embedded() -> Result<Companies, SimError> {
        Companies::parse(DEFAULT_DATA)
    }

    /// Reads and checks a data file.
    pub fn load(path: &std::path::Path) -> Result<Companies, SimError> {
        let json = std::fs::read_to_string(path)
            .map_err(|e| SimError::Data(format!("{}: {e}", path.display())))?;
        Companies::parse(&json)
    }

    pub fn get(&self, key: &RegisterKey) -> Option<&Company> {
        self.by_key.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&RegisterKey, &Company)> {
        self.by_key.iter()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_data_is_valid() {
        let companies = Companies::embedded().unwrap();
        assert!(companies.len() >= 5);
        for (key, company) in companies.iter() {
            assert!(company.euid.is_some(), "{key}");
            assert!(company.wirtschafts_id.is_some(), "{key}");
            assert!(!company.representatives.is_empty(), "{key}");
            for person in &company.representatives {
                assert_eq!(person.date_of_birth.len(), 10, "{key}");
            }
        }
    }

    #[test]
    fn bad_files_are_refused() {
        let one = r#"{"key":{"court":"München","type":"HRB","number":"1"},"euid":null,
            "wirtschafts_id":null,"name":"A","legal_form":"B","address":{"street":"S",
            "postal_code":"1","locality":"L","country":"DE"},"representatives":[],
            "status":"active"}"#;
        assert!(Companies::parse(&format!(r#"{{"companies":[{one}]}}"#)).is_ok());
        for bad in [
            String::new(),
            "{}".into(),
            r#"{"companies":[],"more":1}"#.into(),
            format!(r#"{{"companies":[{one},{one}]}}"#),
            format!(r#"{{"companies":[{}]}}"#, one.replace("HRB", "HRX")),
            format!(
                r#"{{"companies":[{}]}}"#,
                one.replace("München", " München")
            ),
            format!(
                r#"{{"companies":[{}]}}"#,
                one.replace("\"euid\":null", "\"euid\":\"x\"")
            ),
            format!(r#"{{"companies":[{}]}}"#, one.replace("active", "dormant")),
        ] {
            assert!(Companies::parse(&bad).is_err(), "{bad}");
        }
    }
}
