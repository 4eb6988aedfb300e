//! What the letter says, in each language. Every value comes from the [`ConfirmationLetter`];
//! nothing else about the people or the organisation is printed.

use time::{Date, Month};

use crate::{ConfirmationLetter, Language};

/// The letter's texts, with the letter's (cleaned) values filled in.
pub(crate) struct Wording {
    pub(crate) date: String,
    pub(crate) subject: String,
    pub(crate) salutation: &'static str,
    pub(crate) request: String,
    pub(crate) code_intro: &'static str,
    pub(crate) instructions: String,
    pub(crate) revocation: Option<String>,
    pub(crate) closing: &'static str,
    pub(crate) unsigned: &'static str,
    /// "Seite {} von {}": only used when the letter runs over one page
    pub(crate) page_of: fn(usize, usize) -> String,
}

/// The letter's values after clean-up, as they are printed.
pub(crate) struct Values<'a> {
    pub(crate) organisation: &'a str,
    pub(crate) register_entry: Option<&'a str>,
    pub(crate) requested_by: &'a str,
    pub(crate) issuer: &'a str,
    pub(crate) url: &'a str,
}

pub(crate) fn wording(letter: &ConfirmationLetter, v: &Values<'_>) -> Wording {
    let Values {
        organisation: org,
        register_entry,
        requested_by: who,
        issuer,
        url,
    } = *v;
    match letter.language {
        Language::De => {
            let register = register_entry
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let until = german_date(letter.valid_until);
            Wording {
                date: german_date(letter.issued_on),
                subject: format!("Bestätigung der Administratorin / des Administrators für {org}"),
                salutation: "Sehr geehrte Damen und Herren,",
                request: format!(
                    "{who} hat bei {issuer} beantragt, das Konto der Organisation „{org}“{register} \
                     als Administratorin oder Administrator zu verwalten."
                ),
                code_intro: "Bevor die Organisation Rechte vergeben kann, muss diese Person den \
                             folgenden Bestätigungscode eingeben:",
                instructions: format!(
                    "Bitte geben Sie den Code an {who} weiter, wenn diese Person das Konto Ihrer \
                     Organisation bei {issuer} verwalten soll. Eingegeben wird er unter {url}. Er \
                     gilt bis einschließlich {until} und kann nur einmal verwendet werden."
                ),
                revocation: letter.revocation_hint.then(|| {
                    format!(
                        "Hat niemand in Ihrer Organisation diese Bestätigung beantragt, geben Sie \
                         den Code bitte nicht weiter und teilen Sie uns dies unter {url} mit. \
                         Ohne den Code erhält niemand Rechte für Ihre Organisation."
                    )
                }),
                closing: "Mit freundlichen Grüßen",
                unsigned: "Dieses Schreiben wurde maschinell erstellt und ist ohne Unterschrift \
                           gültig.",
                page_of: |n, of| format!("Seite {n} von {of}"),
            }
        }
        Language::En => {
            let register = register_entry
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let until = english_date(letter.valid_until);
            Wording {
                date: english_date(letter.issued_on),
                subject: format!("Confirmation of the administrator for {org}"),
                salutation: "Dear Sir or Madam,",
                request: format!(
                    "{who} has asked {issuer} to administer the account of the organisation \
                     “{org}”{register}."
                ),
                code_intro: "Before the organisation can grant rights, this person must enter \
                             the following confirmation code:",
                instructions: format!(
                    "Please pass the code on to {who} if this person is to administer your \
                     organisation's account at {issuer}. The code is entered at {url}. It is \
                     valid until {until} inclusive and can be used only once."
                ),
                revocation: letter.revocation_hint.then(|| {
                    format!(
                        "If nobody at your organisation asked for this, please do not pass on the \
                         code, and let us know at {url}. Without the code, nobody gains rights \
                         for your organisation."
                    )
                }),
                closing: "Yours faithfully,",
                unsigned: "This letter was produced automatically and is valid without a \
                           signature.",
                page_of: |n, of| format!("Page {n} of {of}"),
            }
        }
    }
}

fn german_date(date: Date) -> String {
    let month = match date.month() {
        Month::January => "Januar",
        Month::February => "Februar",
        Month::March => "März",
        Month::April => "April",
        Month::May => "Mai",
        Month::June => "Juni",
        Month::July => "Juli",
        Month::August => "August",
        Month::September => "September",
        Month::October => "Oktober",
        Month::November => "November",
        Month::December => "Dezember",
    };
    format!("{}. {month} {}", date.day(), date.year())
}

fn english_date(date: Date) -> String {
    // time's Month displays its English name
    format!("{} {} {}", date.day(), date.month(), date.year())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn dates_read_as_written_in_each_language() {
        assert_eq!(german_date(date!(2025 - 03 - 07)), "7. März 2025");
        assert_eq!(english_date(date!(2025 - 03 - 07)), "7 March 2025");
    }
}
