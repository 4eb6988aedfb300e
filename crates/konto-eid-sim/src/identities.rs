//! The test identities and failures a user of the simulator can pick.
//!
//! The data follows what real test cards carry: names uppercase, dates of birth as `YYYYMMDD`
//! with spaces for unknown parts, ICAO country codes (`D` for Germany). Each identity has a
//! fixed RestrictedID (32 bytes, hex) so that repeated logins find the same account.

/// What the user picked on the eID client page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Identity(&'static TestIdentity),
    /// The user cancelled in the eID client.
    Cancel,
    /// The card's validity date has passed.
    Expired,
    /// The card is revoked or failed passive authentication.
    Revoked,
    /// The eID-Server failed internally.
    ServerError,
    /// getResult answers only after the configured delay.
    Timeout,
}

impl Choice {
    /// The form value of a choice, e.g. `erika` or `cancel`.
    pub fn key(self) -> &'static str {
        match self {
            Choice::Identity(identity) => identity.key,
            Choice::Cancel => "cancel",
            Choice::Expired => "expired",
            Choice::Revoked => "revoked",
            Choice::ServerError => "server_error",
            Choice::Timeout => "timeout",
        }
    }

    pub fn from_key(key: &str) -> Option<Choice> {
        CHOICES.iter().copied().find(|c| c.key() == key)
    }

    /// German label with an English hint, for the page.
    pub(crate) fn label(self) -> (&'static str, &'static str) {
        match self {
            Choice::Identity(identity) => (identity.label_de, identity.label_en),
            Choice::Cancel => ("Vorgang abbrechen", "user cancels"),
            Choice::Expired => ("Ausweis abgelaufen", "card expired"),
            Choice::Revoked => ("Ausweis gesperrt oder ungültig", "card revoked or invalid"),
            Choice::ServerError => ("Fehler im eID-Server", "eID-Server internal error"),
            Choice::Timeout => (
                "eID-Server antwortet nicht rechtzeitig",
                "timeout: eID-Server answers too late",
            ),
        }
    }
}

/// Every choice, in the order the page shows them.
pub const CHOICES: [Choice; 9] = [
    Choice::Identity(&ERIKA),
    Choice::Identity(&LUKAS),
    Choice::Identity(&AYSE),
    Choice::Identity(&OLEKSANDRA),
    Choice::Cancel,
    Choice::Expired,
    Choice::Revoked,
    Choice::ServerError,
    Choice::Timeout,
];

/// A place as the card holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestPlace {
    Structured {
        street: &'static str,
        city: &'static str,
        country: &'static str,
        zip_code: &'static str,
    },
    Freetext(&'static str),
    NoPlaceInfo,
}

/// One test card. `None` means the field is not on the chip (`NOTONCHIP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestIdentity {
    pub key: &'static str,
    pub label_de: &'static str,
    pub label_en: &'static str,
    pub document_type: &'static str,
    pub issuing_state: &'static str,
    pub given_names: &'static str,
    pub family_names: &'static str,
    pub academic_title: Option<&'static str>,
    /// `DateString`: `YYYYMMDD`, unknown parts as spaces.
    pub date_of_birth: &'static str,
    pub place_of_birth: Option<TestPlace>,
    pub nationality: &'static str,
    pub birth_name: Option<&'static str>,
    pub place_of_residence: TestPlace,
    pub community_id: Option<&'static str>,
    pub restricted_id: &'static str,
}

/// The standard test identity of German eID test cards.
pub static ERIKA: TestIdentity = TestIdentity {
    key: "erika",
    label_de: "ERIKA MUSTERMANN – vollständiger Datensatz",
    label_en: "complete data of the standard test card",
    document_type: "ID",
    issuing_state: "D",
    given_names: "ERIKA",
    family_names: "MUSTERMANN",
    academic_title: Some("DR."),
    date_of_birth: "19640812",
    place_of_birth: Some(TestPlace::Freetext("BERLIN")),
    nationality: "D",
    birth_name: Some("GABLER"),
    place_of_residence: TestPlace::Structured {
        street: "HEIDESTRASSE 17",
        city: "KÖLN",
        country: "D",
        zip_code: "51147",
    },
    community_id: Some("027605315000"),
    restricted_id: "3a4f0c7e2b9d18e65f0a7c3d9e1b2f4a6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f",
};

pub static LUKAS: TestIdentity = TestIdentity {
    key: "lukas",
    label_de: "LUKAS WEBER – ohne Doktorgrad, Geburtsname und Geburtsort (nicht auf dem Chip)",
    label_en: "academic title, birth name, place of birth NOTONCHIP",
    document_type: "ID",
    issuing_state: "D",
    given_names: "LUKAS",
    family_names: "WEBER",
    academic_title: None,
    date_of_birth: "19900301",
    place_of_birth: None,
    nationality: "D",
    birth_name: None,
    place_of_residence: TestPlace::Structured {
        street: "MARKTPLATZ 1",
        city: "POTSDAM",
        country: "D",
        zip_code: "14467",
    },
    community_id: None,
    restricted_id: "aa00bb11cc22dd33ee44ff5566778899aa00bb11cc22dd33ee44ff5566778899",
};

pub static AYSE: TestIdentity = TestIdentity {
    key: "ayse",
    label_de: "AYŞE YILMAZ – nur Geburtsjahr bekannt, Orte als Freitext",
    label_en: "partial date of birth (1979), free-text places",
    document_type: "ID",
    issuing_state: "D",
    given_names: "AYŞE",
    family_names: "YILMAZ",
    academic_title: None,
    date_of_birth: "1979    ",
    place_of_birth: Some(TestPlace::Freetext("ISTANBUL/TÜRKEI")),
    nationality: "D",
    birth_name: None,
    place_of_residence: TestPlace::Freetext("KEINE HAUPTWOHNUNG IN DEUTSCHLAND"),
    community_id: None,
    restricted_id: "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
};

pub static OLEKSANDRA: TestIdentity = TestIdentity {
    key: "oleksandra",
    label_de: "OLEKSANDRA KOVALENKO – elektronischer Aufenthaltstitel (eAT)",
    label_en: "electronic residence permit, document type AR",
    document_type: "AR",
    issuing_state: "D",
    given_names: "OLEKSANDRA",
    family_names: "KOVALENKO",
    academic_title: None,
    date_of_birth: "19881105",
    place_of_birth: Some(TestPlace::Freetext("KYJIW")),
    nationality: "UKR",
    birth_name: None,
    place_of_residence: TestPlace::Structured {
        street: "LINDENALLEE 5",
        city: "LEIPZIG",
        country: "D",
        zip_code: "04109",
    },
    community_id: Some("027614713000"),
    restricted_id: "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_restricted_ids_are_32_byte_hex() {
        for choice in CHOICES {
            assert_eq!(Choice::from_key(choice.key()), Some(choice));
            if let Choice::Identity(identity) = choice {
                assert_eq!(identity.restricted_id.len(), 64);
                assert!(hex::decode(identity.restricted_id).is_ok());
                assert_eq!(identity.date_of_birth.len(), 8);
            }
        }
        assert_eq!(Choice::from_key("nobody"), None);
    }
}
