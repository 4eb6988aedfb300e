//! The `claims` request parameter (OIDC Core §5.5) and the claims konto releases from an
//! identity's attributes.
//!
//! A client receives at most the claims its registration allows: those of the scopes it is
//! registered for ([`registered_claims`]; OZG §8: each service gets the data it is entitled
//! to). The `claims` parameter only asks: a request for a claim beyond the registration is
//! ignored (§5.5 lets the provider leave requested claims out), before consent is asked, and
//! the ID token and userinfo filter once more by the registration as it stands when they are
//! issued.

use std::collections::{BTreeMap, BTreeSet};

use konto_core::Level;
use konto_core::attributes::{Attribute, AttributeName, AttributeSource};
use konto_core::client::Client;
use konto_core::level::AcrCodec;
use konto_core::scope;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::OAuthError;

/// One requested claim (OIDC Core §5.5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
    /// konto's member for `acting_for` (§5.5.1: "other members MAY be defined"): with
    /// `essential: true`, the user must act as a legal representative of an organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<bool>,
}

/// The `claims` parameter: what to put in the ID token and what in userinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub userinfo: BTreeMap<String, Option<ClaimRequest>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_token: BTreeMap<String, Option<ClaimRequest>>,
}

impl ClaimsRequest {
    pub fn parse(json: &str) -> Result<ClaimsRequest, OAuthError> {
        let bad = || {
            OAuthError::invalid_request(
                "claims is not a valid claims request (OIDC Core section 5.5)",
            )
        };
        let value: Value = serde_json::from_str(json).map_err(|_| bad())?;
        // §5.5 and §5.5.1 ask for objects; serde alone would also read a struct from a JSON array
        if !is_claims_object(&value) {
            return Err(bad());
        }
        serde_json::from_value(value).map_err(|_| bad())
    }

    /// The minimum level an `acr` request asks for (§5.5.1.1): the lowest of the values the client
    /// accepts. `Ok(None)` when `acr` is not requested as essential.
    pub fn essential_acr(&self, codec: &AcrCodec) -> Result<Option<Level>, OAuthError> {
        let Some(Some(req)) = self.id_token.get("acr") else {
            return Ok(None);
        };
        if req.essential != Some(true) {
            return Ok(None);
        }
        let mut values: Vec<&Value> = Vec::new();
        if let Some(v) = &req.value {
            values.push(v);
        }
        if let Some(vs) = &req.values {
            values.extend(vs.iter());
        }
        if values.is_empty() {
            return Ok(None);
        }
        let mut min: Option<Level> = None;
        for v in values {
            let s = v.as_str().ok_or_else(|| {
                OAuthError::invalid_request("acr values in claims must be strings")
            })?;
            let level = codec
                .parse(s)
                .map_err(|_| OAuthError::invalid_request(format!("unknown acr value {s}")))?;
            min = Some(min.map_or(level, |m| m.min(level)));
        }
        Ok(min)
    }

    /// Whether `acting_for` is requested as essential with `legal_representative: true`, in the
    /// ID token or userinfo.
    pub fn legal_representative_required(&self) -> bool {
        [&self.id_token, &self.userinfo].iter().any(|place| {
            matches!(
                place.get("acting_for"),
                Some(Some(ClaimRequest {
                    essential: Some(true),
                    legal_representative: Some(true),
                    ..
                }))
            )
        })
    }

    /// The request without the claims about the person that are not in `allowed`; requests for
    /// other claims (`acr`, …) stay.
    pub fn within(&self, allowed: &BTreeSet<&str>) -> ClaimsRequest {
        let keep = |claims: &BTreeMap<String, Option<ClaimRequest>>| {
            claims
                .iter()
                .filter(|(name, _)| !is_person_claim(name) || allowed.contains(name.as_str()))
                .map(|(name, req)| (name.clone(), req.clone()))
                .collect()
        };
        ClaimsRequest {
            userinfo: keep(&self.userinfo),
            id_token: keep(&self.id_token),
        }
    }

    /// Names of individual claims requested for either place, for consent.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .userinfo
            .keys()
            .chain(self.id_token.keys())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// An object whose `userinfo` and `id_token` members, if present, map names to `null` or objects.
fn is_claims_object(value: &Value) -> bool {
    let Some(request) = value.as_object() else {
        return false;
    };
    ["userinfo", "id_token"]
        .iter()
        .filter_map(|place| request.get(*place))
        .all(|place| {
            place
                .as_object()
                .is_some_and(|claims| claims.values().all(|c| c.is_null() || c.is_object()))
        })
}

/// OIDC claims about a person that konto may release.
const PERSON_CLAIMS: [&str; 14] = [
    "name",
    "given_name",
    "family_name",
    "birthdate",
    "gender",
    "title",
    "birth_family_name",
    "place_of_birth",
    "nationalities",
    "email",
    "email_verified",
    "address",
    "phone_number",
    "phone_number_verified",
];

pub(crate) fn is_person_claim(name: &str) -> bool {
    PERSON_CLAIMS.contains(&name)
}

/// The claims about a person that `client` may ever receive: those of its registered scopes.
pub(crate) fn registered_claims(client: &Client) -> BTreeSet<&'static str> {
    client
        .party
        .scopes
        .iter()
        .flat_map(|s| scope::claims_for_scope(s).iter().copied())
        .collect()
}

fn find(attrs: &[Attribute], name: AttributeName) -> Option<&Attribute> {
    attrs.iter().find(|a| a.name == name)
}

/// The claims among `wanted` that `attrs` can fill, plus `attribute_levels` naming each released
/// claim's level (konto's extension: a relying party sees which data is verified at which level).
pub fn user_claims(attrs: &[Attribute], wanted: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut levels = Map::new();
    let mut put = |out: &mut Map<String, Value>, claim: &str, value: Value, level: Level| {
        out.insert(claim.to_owned(), value);
        levels.insert(claim.to_owned(), Value::String(level.as_str().to_owned()));
    };
    for claim in wanted {
        match *claim {
            "given_name" | "family_name" | "birthdate" | "title" | "birth_family_name" => {
                let name = match *claim {
                    "given_name" => AttributeName::GivenName,
                    "family_name" => AttributeName::FamilyName,
                    "birthdate" => AttributeName::BirthDate,
                    "title" => AttributeName::AcademicTitle,
                    _ => AttributeName::BirthName,
                };
                if let Some(a) = find(attrs, name) {
                    put(&mut out, claim, json!(a.value), a.level);
                }
            }
            "name" => {
                let given = find(attrs, AttributeName::GivenName);
                let family = find(attrs, AttributeName::FamilyName);
                if let (Some(g), Some(f)) = (given, family) {
                    put(
                        &mut out,
                        claim,
                        json!(format!("{} {}", g.value, f.value)),
                        g.level.min(f.level),
                    );
                }
            }
            "gender" => {
                if let Some(a) = find(attrs, AttributeName::Gender) {
                    // ISO/IEC 5218: 1 male, 2 female; 0 not known and 9 not applicable are not released
                    let g = match a.value.as_str() {
                        "1" | "male" => Some("male"),
                        "2" | "female" => Some("female"),
                        _ => None,
                    };
                    if let Some(g) = g {
                        put(&mut out, claim, json!(g), a.level);
                    }
                }
            }
            "place_of_birth" => {
                if let Some(a) = find(attrs, AttributeName::PlaceOfBirth) {
                    // OpenID Connect for Identity Assurance: an object with locality (and country)
                    put(&mut out, claim, json!({ "locality": a.value }), a.level);
                }
            }
            "nationalities" => {
                if let Some(a) = find(attrs, AttributeName::Nationality) {
                    put(&mut out, claim, json!([a.value]), a.level);
                }
            }
            "email" => {
                if let Some(a) = find(attrs, AttributeName::Email) {
                    put(&mut out, claim, json!(a.value), a.level);
                }
            }
            "email_verified" => {
                if let Some(a) = find(attrs, AttributeName::Email) {
                    let verified = !matches!(a.source, AttributeSource::SelfAsserted);
                    out.insert("email_verified".into(), json!(verified));
                }
            }
            "phone_number" => {
                if let Some(a) = find(attrs, AttributeName::Phone) {
                    put(&mut out, claim, json!(a.value), a.level);
                }
            }
            "phone_number_verified" => {
                if let Some(a) = find(attrs, AttributeName::Phone) {
                    out.insert(
                        claim.to_string(),
                        json!(!matches!(a.source, AttributeSource::SelfAsserted)),
                    );
                }
            }
            "address" => {
                let parts = [
                    ("street_address", AttributeName::Street),
                    ("postal_code", AttributeName::PostalCode),
                    ("locality", AttributeName::Locality),
                    ("country", AttributeName::Country),
                ];
                let mut address = Map::new();
                let mut level: Option<Level> = None;
                for (key, name) in parts {
                    if let Some(a) = find(attrs, name) {
                        address.insert(key.into(), json!(a.value));
                        level = Some(level.map_or(a.level, |l| l.min(a.level)));
                    }
                }
                if let Some(level) = level {
                    put(&mut out, claim, Value::Object(address), level);
                }
            }
            _ => {}
        }
    }
    if !levels.is_empty() {
        out.insert("attribute_levels".into(), Value::Object(levels));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn a(name: AttributeName, v: &str, source: AttributeSource, level: Level) -> Attribute {
        Attribute::new(name, v, source, level, OffsetDateTime::UNIX_EPOCH)
    }

    /// OIDC Core §5.5.1.1: `{"id_token":{"acr":{"essential":true,"values":[...]}}}`.
    #[test]
    fn essential_acr_takes_the_lowest_accepted_value() {
        let codec = AcrCodec::new("https://op.example");
        let c = ClaimsRequest::parse(
            r#"{"id_token":{"acr":{"essential":true,"values":["http://eidas.europa.eu/LoA/high","STORK-QAA-Level-3"]}}}"#,
        )
        .unwrap();
        assert_eq!(c.essential_acr(&codec).unwrap(), Some(Level::Substantial));
        let voluntary = ClaimsRequest::parse(
            r#"{"id_token":{"acr":{"values":["http://eidas.europa.eu/LoA/high"]}}}"#,
        )
        .unwrap();
        assert_eq!(voluntary.essential_acr(&codec).unwrap(), None);
        let unknown =
            ClaimsRequest::parse(r#"{"id_token":{"acr":{"essential":true,"value":"gold"}}}"#)
                .unwrap();
        assert!(unknown.essential_acr(&codec).is_err());
        assert!(ClaimsRequest::parse("not json").is_err());
        assert!(
            ClaimsRequest::parse("[]").is_err(),
            "an array is no claims request"
        );
        assert!(ClaimsRequest::parse(r#"{"userinfo":{"email":[]}}"#).is_err());
        assert!(ClaimsRequest::parse(r#"{"userinfo":{"email":null}}"#).is_ok());
    }

    /// Issue 6 hole 4: claims beyond the registration are dropped from the request, others stay.
    #[test]
    fn requests_beyond_the_registration_are_dropped() {
        let c = ClaimsRequest::parse(
            r#"{"userinfo":{"email":null,"given_name":null},"id_token":{"email":{"essential":true},"acr":{"essential":true,"value":"x"}}}"#,
        )
        .unwrap();
        let allowed: BTreeSet<&str> = scope::claims_for_scope("email").iter().copied().collect();
        let kept = c.within(&allowed);
        assert_eq!(kept.names(), vec!["acr", "email"]);
        assert!(kept.userinfo.contains_key("email"));
        assert!(!kept.userinfo.contains_key("given_name"));
        assert_eq!(
            c.within(&BTreeSet::new()).names(),
            vec!["acr"],
            "a client registered for openid alone gets no person claims"
        );
    }

    #[test]
    fn claims_from_attributes_with_levels() {
        let attrs = vec![
            a(
                AttributeName::GivenName,
                "ERIKA",
                AttributeSource::Eid,
                Level::High,
            ),
            a(
                AttributeName::FamilyName,
                "MUSTERMANN",
                AttributeSource::Eid,
                Level::High,
            ),
            a(
                AttributeName::Email,
                "erika@example.org",
                AttributeSource::PasswordAccount,
                Level::Basic,
            ),
            a(
                AttributeName::Street,
                "HEIDESTRASSE 17",
                AttributeSource::Eid,
                Level::High,
            ),
            a(
                AttributeName::Locality,
                "KÖLN",
                AttributeSource::Eid,
                Level::High,
            ),
            a(
                AttributeName::Gender,
                "9",
                AttributeSource::Eid,
                Level::High,
            ),
        ];
        let c = user_claims(
            &attrs,
            &[
                "name",
                "email",
                "email_verified",
                "address",
                "gender",
                "birthdate",
            ],
        );
        assert_eq!(c["name"], "ERIKA MUSTERMANN");
        assert_eq!(c["email_verified"], true);
        assert_eq!(c["address"]["locality"], "KÖLN");
        assert!(c.get("gender").is_none());
        assert!(c.get("birthdate").is_none());
        assert_eq!(c["attribute_levels"]["name"], "high");
        assert_eq!(c["attribute_levels"]["email"], "basic");
    }
}
