//! Writes a sample confirmation letter to standard output, to look at the layout:
//! `cargo run -p konto-letter --example letter -- en > letter.pdf`

use std::io::Write;

use konto_letter::{ConfirmationLetter, Language, render};
use time::macros::date;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let language = match std::env::args().nth(1).as_deref() {
        Some("en") => Language::En,
        _ => Language::De,
    };
    let organisation = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "Müller & Söhne Großhandel GmbH".to_owned());
    let letter = ConfirmationLetter {
        language,
        recipient_lines: vec![
            "An die Geschäftsführung".to_owned(),
            "Müller & Söhne Großhandel GmbH".to_owned(),
            "Äußere Wiener Straße 12".to_owned(),
            "81667 München".to_owned(),
        ],
        organisation_name: organisation,
        register_entry: Some("Amtsgericht München HRB 123456".to_owned()),
        requested_by: "Jörg Öztürk-Weiß".to_owned(),
        code: "K7QF-2MXD-9PLA".to_owned(),
        revocation_hint: true,
        issued_on: date!(2025 - 03 - 12),
        valid_until: date!(2025 - 04 - 11),
        issuer_name: "konto".to_owned(),
        issuer_url: "https://konto.example/org/confirm".to_owned(),
    };
    std::io::stdout().write_all(&render(&letter)?)?;
    Ok(())
}
