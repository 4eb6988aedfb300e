//! The attributes konto releases over SAML, by the `urn:oid:` names BundID uses
//! (`reference.md` §2, NameFormat `urn:oasis:names:tc:SAML:2.0:attrname-format:uri`).

use konto_core::attributes::AttributeName;

/// What a released SAML attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// An identity attribute of the account, with its own level.
    Identity(AttributeName),
    /// bPK2: the pseudonym per SP host.
    Bpk2,
    /// The postbox handle.
    PostboxHandle,
    /// The login's level as `STORK-QAA-Level-N`.
    Level,
    /// The authenticator used (`eID`, `Elster`, `Benutzername`).
    ProvedBy,
    /// Whether two factors were used.
    Mfa,
    /// A fresh UUID grouping the messages and status updates of this application.
    ApplicationId,
    /// The interface version.
    Version,
}

/// One attribute: its `urn:oid:` name, BundID's friendly name, and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamlAttribute {
    pub oid: &'static str,
    pub friendly: &'static str,
    pub released: Released,
}

const fn a(oid: &'static str, friendly: &'static str, released: Released) -> SamlAttribute {
    SamlAttribute {
        oid,
        friendly,
        released,
    }
}

use Released::Identity as Id;

/// Every attribute konto can release.
/// (The eID pseudonym is never passed on: it names the card, not the account.)
pub const ALL: [SamlAttribute; 23] = [
    a(
        "urn:oid:2.5.4.42",
        "givenName",
        Id(AttributeName::GivenName),
    ),
    a("urn:oid:2.5.4.4", "surname", Id(AttributeName::FamilyName)),
    a(
        "urn:oid:0.9.2342.19200300.100.1.3",
        "mail",
        Id(AttributeName::Email),
    ),
    a(
        "urn:oid:2.5.4.16",
        "postalAddress",
        Id(AttributeName::Street),
    ),
    a(
        "urn:oid:2.5.4.17",
        "postalCode",
        Id(AttributeName::PostalCode),
    ),
    a(
        "urn:oid:2.5.4.7",
        "localityName",
        Id(AttributeName::Locality),
    ),
    a(
        "urn:oid:1.2.40.0.10.2.1.1.225599",
        "country",
        Id(AttributeName::Country),
    ),
    a(
        "urn:oid:0.9.2342.19200300.100.1.40",
        "personalTitle",
        Id(AttributeName::AcademicTitle),
    ),
    a(
        "urn:oid:1.3.6.1.4.1.33592.1.3.5",
        "gender",
        Id(AttributeName::Gender),
    ),
    a(
        "urn:oid:1.2.40.0.10.2.1.1.55",
        "birthdate",
        Id(AttributeName::BirthDate),
    ),
    a(
        "urn:oid:1.3.6.1.5.5.7.9.2",
        "placeOfBirth",
        Id(AttributeName::PlaceOfBirth),
    ),
    a(
        "urn:oid:1.2.40.0.10.2.1.1.225566",
        "birthName",
        Id(AttributeName::BirthName),
    ),
    a(
        "urn:oid:1.2.40.0.10.2.1.1.225577",
        "nationality",
        Id(AttributeName::Nationality),
    ),
    a(
        "urn:oid:1.2.40.0.10.2.1.1.552255",
        "documentType",
        Id(AttributeName::DocumentType),
    ),
    a(
        "urn:oid:1.3.6.1.4.1.25484.494450.5",
        "communityId",
        Id(AttributeName::CommunityId),
    ),
    a(
        "urn:oid:2.5.4.20",
        "telephoneNumber",
        Id(AttributeName::Phone),
    ),
    a("urn:oid:1.3.6.1.4.1.25484.494450.3", "bPK2", Released::Bpk2),
    a(
        "urn:oid:1.2.40.0.10.2.1.1.261.94",
        "EID-CITIZEN-QAA-LEVEL",
        Released::Level,
    ),
    a(
        "urn:oid:1.3.6.1.4.1.25484.494450.2",
        "AssertionProvedBy",
        Released::ProvedBy,
    ),
    a(
        "urn:oid:2.5.4.18",
        "legacyPostkorbHandle",
        Released::PostboxHandle,
    ),
    a(
        "urn:oid:1.3.6.1.4.1.25484.494450.4",
        "applicationId",
        Released::ApplicationId,
    ),
    a("urn:oid:1.3.6.1.4.1.25484.494450.7", "mfa", Released::Mfa),
    a(
        "urn:oid:1.3.6.1.4.1.25484.494450.1",
        "Version",
        Released::Version,
    ),
];

/// The interface version konto speaks (BundID's CalVer).
pub const INTERFACE_VERSION: &str = "2020.2.1";

/// The attribute with this `urn:oid:` name.
pub fn by_oid(oid: &str) -> Option<&'static SamlAttribute> {
    ALL.iter().find(|a| a.oid == oid)
}

impl Released {
    /// The word shown on the consent page and stored with the consent (the OIDC claim name
    /// where one exists).
    pub fn claim(self) -> &'static str {
        match self {
            Released::Identity(n) => n.as_str(),
            Released::Bpk2 => "bpk2",
            Released::PostboxHandle => "postbox_handle",
            Released::Level => "acr",
            Released::ProvedBy => "amr",
            Released::Mfa => "mfa",
            Released::ApplicationId => "application_id",
            Released::Version => "version",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identity_attribute_konto_holds_has_a_name_but_none_twice() {
        for name in AttributeName::ALL {
            assert_eq!(
                ALL.iter()
                    .filter(|a| a.released == Released::Identity(name))
                    .count(),
                1,
                "{name}"
            );
        }
        let mut oids: Vec<_> = ALL.iter().map(|a| a.oid).collect();
        oids.sort_unstable();
        oids.dedup();
        assert_eq!(oids.len(), ALL.len());
    }

    #[test]
    fn names_are_looked_up_exactly() {
        assert_eq!(
            by_oid("urn:oid:2.5.4.42").map(|a| a.friendly),
            Some("givenName")
        );
        assert!(by_oid("urn:oid:2.5.4.42 ").is_none());
    }
}
