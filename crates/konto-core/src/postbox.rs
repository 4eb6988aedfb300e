//! The postbox's rules: what a message a service sends must look like, when a decision counts
//! as delivered, and what an `Idempotency-Key` may be.
//!
//! Field limits follow BundID's postbox (`../shared/design/reference.md` §6): sender and
//! service 1–255 characters, title 1–1024, reference and application id at most 255.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::Level;

/// The longest message body accepted, in bytes of UTF-8 (plain text).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// What a message is: a plain message, or a decision (*Bescheid*), which counts as delivered
/// some days after it was provided (OZG §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Message,
    Decision,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Message => "message",
            MessageKind::Decision => "decision",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        match s {
            "message" => Some(MessageKind::Message),
            "decision" => Some(MessageKind::Decision),
            _ => None,
        }
    }
}

/// How a body is written: plain text, or HTML of a restricted kind (sanitised before it is
/// stored, see `konto_service::postbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    #[default]
    Text,
    Html,
}

impl BodyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Text => "text",
            BodyFormat::Html => "html",
        }
    }

    pub fn parse(s: &str) -> Option<BodyFormat> {
        match s {
            "text" => Some(BodyFormat::Text),
            "html" => Some(BodyFormat::Html),
            _ => None,
        }
    }

    pub fn is_text(&self) -> bool {
        *self == BodyFormat::Text
    }
}

/// A message as a service sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub kind: MessageKind,
    /// The authority that sends it.
    pub sender: String,
    /// The online service it concerns.
    pub service: String,
    pub title: String,
    pub body: String,
    pub format: BodyFormat,
    /// The level a session must have reached to read it.
    pub min_level: Level,
    pub reference: Option<String>,
    pub application_id: Option<String>,
    /// Where the person may answer (an e-mail address or a URL of the service), at most 320
    /// characters.
    pub reply_address: Option<String>,
}

/// Why a message was refused: the field, by its API name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("{0} is missing or empty")]
    Empty(&'static str),
    #[error("{0} is too long")]
    TooLong(&'static str),
    #[error("{0} contains control characters")]
    Control(&'static str),
    /// HTML the postbox does not take (a script, an event handler, an element outside the
    /// allowed set): named so that the sender can fix it.
    #[error("the HTML body contains {0}, which is not allowed")]
    Html(String),
    /// More attachments than allowed (the limit).
    #[error("at most {0} attachments are allowed")]
    TooManyAttachments(usize),
    /// An attachment larger than allowed (its file name, the limit in bytes).
    #[error("attachment {0:?} is larger than {1} bytes")]
    AttachmentTooLarge(String, u64),
    /// An attachment's file name is empty, too long, or has a path or control characters.
    #[error(
        "an attachment's file name is not allowed (1–255 characters, no path, no control characters, with an extension)"
    )]
    AttachmentName,
    /// An attachment whose type is not allowed, or does not match its extension or its
    /// content (the file name, what is wrong).
    #[error("attachment {0:?}: {1}")]
    AttachmentType(String, String),
    /// The sender's signature over the content does not verify (or cannot be checked).
    #[error("the content's signature: {0}")]
    Signature(String),
}

fn check(
    name: &'static str,
    value: &str,
    max_chars: usize,
    required: bool,
    lines: bool,
) -> Result<(), MessageError> {
    if required && value.trim().is_empty() {
        return Err(MessageError::Empty(name));
    }
    if value.chars().count() > max_chars {
        return Err(MessageError::TooLong(name));
    }
    let allowed = |c: char| !c.is_control() || (lines && (c == '\n' || c == '\t' || c == '\r'));
    if !value.chars().all(allowed) {
        return Err(MessageError::Control(name));
    }
    Ok(())
}

impl NewMessage {
    /// Checks every field against its limits.
    pub fn validate(&self) -> Result<(), MessageError> {
        check("sender", &self.sender, 255, true, false)?;
        check("service", &self.service, 255, true, false)?;
        check("title", &self.title, 1024, true, false)?;
        if self.body.len() > MAX_BODY_BYTES {
            return Err(MessageError::TooLong("body"));
        }
        check("body", &self.body, MAX_BODY_BYTES, true, true)?;
        if let Some(r) = &self.reference {
            check("reference", r, 255, false, false)?;
        }
        if let Some(a) = &self.application_id {
            check("application_id", a, 255, false, false)?;
        }
        if let Some(r) = &self.reply_address {
            check("reply_address", r, 320, true, false)?;
        }
        Ok(())
    }
}

/// What attachments a message may carry: how many, how large, of which types. The defaults
/// follow BundID's postbox (`reference.md` §6): 5 files of at most 2 MB; PDF, text, images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRules {
    pub max_count: usize,
    /// Per attachment, in bytes.
    pub max_bytes: u64,
    /// Allowed media types (lower case, without parameters).
    pub types: Vec<String>,
}

impl Default for AttachmentRules {
    fn default() -> Self {
        AttachmentRules {
            max_count: 5,
            max_bytes: 2 * 1024 * 1024,
            types: ["application/pdf", "text/plain", "image/png", "image/jpeg"]
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

/// The file name extensions each media type may carry (a file's extension must match its
/// type, as BundID's postbox requires).
pub const EXTENSIONS: &[(&str, &[&str])] = &[
    ("application/pdf", &["pdf"]),
    ("text/plain", &["txt", "text"]),
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
    ("image/gif", &["gif"]),
    ("image/tiff", &["tif", "tiff"]),
];

/// The media type a declared `Content-Type` names: lower case, without parameters.
pub fn media_type(declared: &str) -> String {
    declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl AttachmentRules {
    /// Checks an attachment's name and declared type (not yet its content): an allowed type
    /// whose extensions include the name's. Returns the media type.
    pub fn check_declared(&self, filename: &str, declared: &str) -> Result<String, MessageError> {
        if !valid_filename(filename) {
            return Err(MessageError::AttachmentName);
        }
        let media = media_type(declared);
        if !self.types.contains(&media) {
            return Err(MessageError::AttachmentType(
                filename.to_owned(),
                format!("the type {media:?} is not allowed"),
            ));
        }
        let ext = filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let fits = EXTENSIONS
            .iter()
            .any(|(t, exts)| *t == media && exts.contains(&ext.as_str()));
        if !fits {
            return Err(MessageError::AttachmentType(
                filename.to_owned(),
                format!("the extension does not match the type {media:?}"),
            ));
        }
        Ok(media)
    }
}

/// Whether `name` may name an attachment: 1–255 characters, no path (`/`, `\`), no control
/// characters, not starting with a dot, with an extension.
pub fn valid_filename(name: &str) -> bool {
    let n = name.chars().count();
    (1..=255).contains(&n)
        && !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        && !name.starts_with('.')
        && name.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.trim().is_empty()
                && !ext.is_empty()
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// Whether `key` may be an `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn valid_idempotency_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The day a decision provided at `provided_at` counts as delivered: `days` days later (OZG §9
/// as amended in 2024: the fourth day; the earlier text said the third). Computed on the
/// calendar date in UTC; the rule is configurable because the law changed once already.
pub fn delivered_on(provided_at: OffsetDateTime, days: u8) -> Option<Date> {
    provided_at
        .date()
        .checked_add(time::Duration::days(i64::from(days)))
}

/// Where an application stands, as the service reports it (BundID's status monitor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplicationStatus {
    Initiated,
    Submitted,
    Received,
    Processing,
    ActionRequired,
    Completed,
}

impl ApplicationStatus {
    pub const ALL: [ApplicationStatus; 6] = [
        ApplicationStatus::Initiated,
        ApplicationStatus::Submitted,
        ApplicationStatus::Received,
        ApplicationStatus::Processing,
        ApplicationStatus::ActionRequired,
        ApplicationStatus::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Initiated => "INITIATED",
            ApplicationStatus::Submitted => "SUBMITTED",
            ApplicationStatus::Received => "RECEIVED",
            ApplicationStatus::Processing => "PROCESSING",
            ApplicationStatus::ActionRequired => "ACTION_REQUIRED",
            ApplicationStatus::Completed => "COMPLETED",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicationStatus> {
        ApplicationStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A text in several languages (`de` required, others optional), as the status monitor takes
/// service names and details.
pub type Localized = std::collections::BTreeMap<String, String>;

/// A status update for an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdate {
    pub application_id: String,
    pub status: ApplicationStatus,
    pub sender: String,
    pub service_name: Localized,
    pub details: Localized,
    pub reference: Option<String>,
}

fn check_localized(
    name: &'static str,
    texts: &Localized,
    max_chars: usize,
    required: bool,
) -> Result<(), MessageError> {
    if required && !texts.contains_key("de") {
        return Err(MessageError::Empty(name));
    }
    if texts.len() > 8 {
        return Err(MessageError::TooLong(name));
    }
    for (lang, text) in texts {
        let valid_lang =
            (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
        if !valid_lang {
            return Err(MessageError::Control(name));
        }
        check(name, text, max_chars, required, true)?;
    }
    Ok(())
}

impl StateUpdate {
    /// Checks every field against its limits: an application id and a sender (1–255), a
    /// service name in German at least (1–255 each), details of at most 4,096 characters each.
    pub fn validate(&self) -> Result<(), MessageError> {
        check("application_id", &self.application_id, 255, true, false)?;
        check("sender", &self.sender, 255, true, false)?;
        check_localized("service_name", &self.service_name, 255, true)?;
        check_localized("details", &self.details, 4096, false)?;
        if let Some(r) = &self.reference {
            check("reference", r, 255, false, false)?;
        }
        Ok(())
    }
}

/// The text for `lang` if there is one, else the German one, else any.
pub fn localized<'a>(texts: &'a Localized, lang: &str) -> Option<&'a str> {
    texts
        .get(lang)
        .or_else(|| texts.get("de"))
        .or_else(|| texts.values().next())
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn message() -> NewMessage {
        NewMessage {
            kind: MessageKind::Decision,
            sender: "Finanzamt München".into(),
            service: "Grundsteuer".into(),
            title: "Ihr Bescheid".into(),
            body: "Sehr geehrte Frau Mustermann,\n\nanbei …".into(),
            format: BodyFormat::Text,
            min_level: Level::Substantial,
            reference: Some("AZ 4711".into()),
            application_id: None,
            reply_address: Some("grundsteuer@finanzamt.example".into()),
        }
    }

    #[test]
    fn a_proper_message_passes() {
        assert_eq!(message().validate(), Ok(()));
    }

    #[test]
    fn each_limit_is_named() {
        let mut m = message();
        m.sender = " ".into();
        assert_eq!(m.validate(), Err(MessageError::Empty("sender")));
        let mut m = message();
        m.title = "x".repeat(1025);
        assert_eq!(m.validate(), Err(MessageError::TooLong("title")));
        let mut m = message();
        m.title = "ä".repeat(1024);
        assert_eq!(m.validate(), Ok(()), "characters, not bytes");
        let mut m = message();
        m.service = "Grund\u{0}steuer".into();
        assert_eq!(m.validate(), Err(MessageError::Control("service")));
        let mut m = message();
        m.title = "two\nlines".into();
        assert_eq!(m.validate(), Err(MessageError::Control("title")));
        let mut m = message();
        m.body = "x".repeat(MAX_BODY_BYTES + 1);
        assert_eq!(m.validate(), Err(MessageError::TooLong("body")));
        let mut m = message();
        m.reference = Some("r".repeat(256));
        assert_eq!(m.validate(), Err(MessageError::TooLong("reference")));
    }

    #[test]
    fn status_updates() {
        let mut u = StateUpdate {
            application_id: "A-1".into(),
            status: ApplicationStatus::Received,
            sender: "Bürgeramt".into(),
            service_name: [("de".to_owned(), "Wohnsitzanmeldung".to_owned())].into(),
            details: Localized::new(),
            reference: None,
        };
        assert_eq!(u.validate(), Ok(()));
        assert_eq!(
            ApplicationStatus::parse("ACTION_REQUIRED"),
            Some(ApplicationStatus::ActionRequired)
        );
        assert_eq!(ApplicationStatus::parse("action_required"), None);
        for s in ApplicationStatus::ALL {
            assert_eq!(ApplicationStatus::parse(s.as_str()), Some(s));
        }
        u.service_name = [("en".to_owned(), "Registration".to_owned())].into();
        assert_eq!(
            u.validate(),
            Err(MessageError::Empty("service_name")),
            "German is required"
        );
        u.service_name = [("de".to_owned(), "x".repeat(256))].into();
        assert_eq!(u.validate(), Err(MessageError::TooLong("service_name")));
        u.service_name = [("de".to_owned(), "Anmeldung".to_owned())].into();
        u.details = [("DE!".to_owned(), "x".to_owned())].into();
        assert_eq!(u.validate(), Err(MessageError::Control("details")));
        u.details = [("en".to_owned(), "Please send\nthe form".to_owned())].into();
        assert_eq!(u.validate(), Ok(()));
        assert_eq!(localized(&u.details, "de"), Some("Please send\nthe form"));
        assert_eq!(localized(&u.service_name, "en"), Some("Anmeldung"));
    }

    #[test]
    fn attachments_are_checked_by_name_and_type() {
        let rules = AttachmentRules::default();
        assert_eq!(
            rules.check_declared("Bescheid.pdf", "application/pdf"),
            Ok("application/pdf".into())
        );
        assert_eq!(
            rules.check_declared("notiz.TXT", "Text/Plain; charset=utf-8"),
            Ok("text/plain".into())
        );
        assert!(matches!(
            rules.check_declared("Bescheid.pdf", "image/png"),
            Err(MessageError::AttachmentType(..))
        ));
        assert!(matches!(
            rules.check_declared("virus.exe", "application/x-msdownload"),
            Err(MessageError::AttachmentType(..))
        ));
        assert!(
            matches!(
                rules.check_declared("bild.gif", "image/gif"),
                Err(MessageError::AttachmentType(..)),
            ),
            "a known type outside the allow-list"
        );
        for bad in [
            "",
            "../etc/passwd.txt",
            "a\\b.txt",
            ".hidden.txt",
            "noext",
            "x.",
            "tab\t.txt",
            " .pdf",
        ] {
            assert_eq!(
                rules.check_declared(bad, "text/plain"),
                Err(MessageError::AttachmentName),
                "{bad:?}"
            );
        }
        assert_eq!(
            rules.check_declared(&format!("{}.txt", "a".repeat(252)), "text/plain"),
            Err(MessageError::AttachmentName)
        );
        assert!(
            rules
                .check_declared("Übersicht 2026.pdf", "application/pdf")
                .is_ok()
        );
    }

    #[test]
    fn idempotency_keys() {
        assert!(valid_idempotency_key(
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        ));
        assert!(!valid_idempotency_key(""));
        assert!(!valid_idempotency_key("with space"));
        assert!(!valid_idempotency_key("ümlaut"));
        assert!(!valid_idempotency_key(&"k".repeat(256)));
    }

    #[test]
    fn a_decision_counts_as_delivered_on_the_fourth_day() {
        let provided = datetime!(2026-12-03 23:30 UTC);
        assert_eq!(
            delivered_on(provided, 4),
            Some(time::macros::date!(2026 - 12 - 07))
        );
        assert_eq!(
            delivered_on(provided, 3),
            Some(time::macros::date!(2026 - 12 - 06))
        );
    }
}
