//! The confirmation letter: checking its values and laying it out on A4 pages.
//!
//! Positions follow DIN 5008 form B, so the address shows in the window of a DL envelope and the
//! fold marks fall where the letter is folded for it.

use time::Date;

use crate::layout::{Face, Fonts, Item, Page, clean, fonts, wrap};
use crate::wording::{Values, Wording, wording};
use crate::{LetterError, pdf};

/// The language the letter is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    De,
    En,
}

/// Everything printed on an organisation's confirmation letter, and nothing more.
///
/// Text fields may hold anything a form accepts: line breaks and control characters become
/// spaces, invisible formatting characters are dropped, and characters the embedded font cannot
/// show are printed as `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationLetter {
    pub language: Language,
    /// The address in the envelope window, e.g. "An die Geschäftsführung", company name, street,
    /// postcode and city; at most six lines once long lines are broken.
    pub recipient_lines: Vec<String>,
    pub organisation_name: String,
    /// The commercial register entry, e.g. "Amtsgericht München HRB 123456".
    pub register_entry: Option<String>,
    /// Who asked to become the organisation's administrator.
    pub requested_by: String,
    /// The one-time confirmation code, e.g. "K7QF-2MXD-9PLA".
    pub code: String,
    /// Whether to tell the management what to do if nobody asked for this.
    pub revocation_hint: bool,
    pub issued_on: Date,
    /// The last day on which the code is accepted.
    pub valid_until: Date,
    /// The operator's name: sender and signature.
    pub issuer_name: String,
    /// Where the code is entered.
    pub issuer_url: String,
}

/// Renders the letter as a PDF document, in memory.
///
/// # Errors
///
/// A required field is empty or longer than its limit, the address or the sender does not fit
/// into its place, the code would expire before the letter is issued, or the PDF cannot be
/// written.
pub fn render(letter: &ConfirmationLetter) -> Result<Vec<u8>, LetterError> {
    let fonts = fonts()?;
    let pages = compose(letter, fonts)?;
    pdf::write(&pages, fonts, letter.language)
}

pub(crate) const MM: f32 = 72.0 / 25.4;
pub(crate) const PAGE_WIDTH: f32 = 210.0 * MM;
pub(crate) const PAGE_HEIGHT: f32 = 297.0 * MM;
pub(crate) const LEFT: f32 = 25.0 * MM;
pub(crate) const RIGHT: f32 = PAGE_WIDTH - 20.0 * MM;
pub(crate) const BOTTOM: f32 = PAGE_HEIGHT - 25.0 * MM;
const TEXT_WIDTH: f32 = RIGHT - LEFT;
/// Top of the text on every page after the first.
const CONTINUATION_TOP: f32 = 25.0 * MM;
const FOOTER_BASELINE: f32 = PAGE_HEIGHT - 12.0 * MM;

/// The address field is 85 mm wide from 20 mm; the envelope window needs a little air inside.
pub(crate) const ADDRESS_WIDTH: f32 = 75.0 * MM;
/// The last line of the 17.7 mm zone above the address, where the sender goes.
const SENDER_BASELINE: f32 = 60.5 * MM;
const SENDER_LINES: usize = 3;
/// First line of the 27.3 mm address zone, which holds six lines.
const ADDRESS_BASELINE: f32 = 66.2 * MM;
const ADDRESS_LINES: usize = 6;
/// In line with the address's last line, at the right margin.
const DATE_BASELINE: f32 = ADDRESS_BASELINE + ADDRESS_LEADING * (ADDRESS_LINES - 1) as f32;
/// Two blank lines below the address field.
const SUBJECT_BASELINE: f32 = 98.5 * MM;

const SENDER_SIZE: f32 = 7.0;
const SENDER_LEADING: f32 = 8.5;
const ADDRESS_SIZE: f32 = 10.0;
const ADDRESS_LEADING: f32 = 12.0;
const BODY_SIZE: f32 = 10.5;
const LEADING: f32 = 14.0;
const CODE_SIZE: f32 = 18.0;
const CODE_LEADING: f32 = 24.0;
const CODE_PADDING: f32 = 10.0;
const NOTE_SIZE: f32 = 8.0;

/// Limits in characters: far above any real value, they bound how long a letter can get.
const MAX_ORGANISATION: usize = 500;
const MAX_NAME: usize = 200;
const MAX_REGISTER: usize = 200;
const MAX_CODE: usize = 64;
const MAX_ISSUER: usize = 100;
const MAX_URL: usize = 500;
const MAX_ADDRESS_LINE: usize = 500;

/// Checks and cleans one text field.
fn field(name: &'static str, value: &str, max: usize) -> Result<String, LetterError> {
    if value.chars().nth(max).is_some() {
        return Err(LetterError::TooLong { field: name, max });
    }
    let value = clean(value);
    if value.is_empty() {
        return Err(LetterError::Empty { field: name });
    }
    Ok(value)
}

/// Lays the letter out on pages, without drawing anything.
pub(crate) fn compose(
    letter: &ConfirmationLetter,
    fonts: &Fonts,
) -> Result<Vec<Page>, LetterError> {
    if letter.valid_until < letter.issued_on {
        return Err(LetterError::ValidBeforeIssued {
            issued_on: letter.issued_on,
            valid_until: letter.valid_until,
        });
    }
    let organisation = field(
        "organisation_name",
        &letter.organisation_name,
        MAX_ORGANISATION,
    )?;
    let requested_by = field("requested_by", &letter.requested_by, MAX_NAME)?;
    let code = field("code", &letter.code, MAX_CODE)?;
    let issuer = field("issuer_name", &letter.issuer_name, MAX_ISSUER)?;
    let url = field("issuer_url", &letter.issuer_url, MAX_URL)?;
    let register_entry = match letter.register_entry.as_deref() {
        None => None,
        Some(entry) => match field("register_entry", entry, MAX_REGISTER) {
            Ok(entry) => Some(entry),
            Err(LetterError::Empty { .. }) => None,
            Err(e) => return Err(e),
        },
    };
    if letter.recipient_lines.len() > ADDRESS_LINES {
        return Err(LetterError::DoesNotFit {
            field: "recipient_lines",
        });
    }
    let mut recipient = Vec::new();
    for line in &letter.recipient_lines {
        match field("recipient_lines", line, MAX_ADDRESS_LINE) {
            Ok(line) => recipient.push(line),
            // a blank line in an address form is no reason to refuse the letter
            Err(LetterError::Empty { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if recipient.is_empty() {
        return Err(LetterError::Empty {
            field: "recipient_lines",
        });
    }

    let words = wording(
        letter,
        &Values {
            organisation: &organisation,
            register_entry: register_entry.as_deref(),
            requested_by: &requested_by,
            issuer: &issuer,
            url: &url,
        },
    );

    let mut flow = Flow::new(fonts);
    flow.fold_marks();
    flow.sender(&issuer)?;
    flow.address(&recipient)?;
    flow.letter(&words, &code, &issuer);
    Ok(flow.finish(&words))
}

/// Places lines from the top of the first page downwards, starting a new page when one is full.
struct Flow<'f> {
    fonts: &'f Fonts,
    pages: Vec<Page>,
    /// Baseline of the last line placed, or bottom of the last block.
    y: f32,
}

impl<'f> Flow<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Flow {
            fonts,
            pages: vec![Page::default()],
            y: 0.0,
        }
    }

    fn face(&self, bold: bool) -> &'f Face {
        if bold {
            &self.fonts.bold
        } else {
            &self.fonts.regular
        }
    }

    fn push(&mut self, item: Item) {
        if let Some(page) = self.pages.last_mut() {
            page.items.push(item);
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: String) {
        let width = self.face(bold).width(&text, size);
        self.push(Item::Text {
            x,
            y,
            size,
            bold,
            text,
            width,
        });
    }

    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = CONTINUATION_TOP;
    }

    /// Moves down to the next baseline, `by` below the last one.
    fn advance(&mut self, by: f32) {
        if self.y + by > BOTTOM {
            self.new_page();
        } else {
            self.y += by;
        }
    }

    fn fold_marks(&mut self) {
        // fold marks for a DL envelope, and the hole punch mark in between
        for (y, width) in [
            (105.0 * MM, 5.0 * MM),
            (148.5 * MM, 8.0 * MM),
            (210.0 * MM, 5.0 * MM),
        ] {
            self.push(Item::Rule {
                x: 4.0 * MM,
                y,
                width,
            });
        }
    }

    fn sender(&mut self, issuer: &str) -> Result<(), LetterError> {
        let face = self.face(false);
        let lines = wrap(face, SENDER_SIZE, &face.fit(issuer), ADDRESS_WIDTH);
        if lines.len() > SENDER_LINES {
            return Err(LetterError::DoesNotFit {
                field: "issuer_name",
            });
        }
        // the sender line sits on the address zone, so a longer name grows upwards
        let first = SENDER_BASELINE - SENDER_LEADING * (lines.len().saturating_sub(1)) as f32;
        for (i, line) in lines.into_iter().enumerate() {
            self.text(
                LEFT,
                first + SENDER_LEADING * i as f32,
                SENDER_SIZE,
                false,
                line,
            );
        }
        Ok(())
    }

    fn address(&mut self, recipient: &[String]) -> Result<(), LetterError> {
        let face = self.face(false);
        let lines: Vec<String> = recipient
            .iter()
            .flat_map(|line| wrap(face, ADDRESS_SIZE, &face.fit(line), ADDRESS_WIDTH))
            .collect();
        if lines.len() > ADDRESS_LINES {
            return Err(LetterError::DoesNotFit {
                field: "recipient_lines",
            });
        }
        for (i, line) in lines.into_iter().enumerate() {
            self.text(
                LEFT,
                ADDRESS_BASELINE + ADDRESS_LEADING * i as f32,
                ADDRESS_SIZE,
                false,
                line,
            );
        }
        Ok(())
    }

    /// A paragraph at the left margin, wrapped to the text width.
    fn paragraph(&mut self, text: &str, size: f32, bold: bool, leading: f32) {
        let face = self.face(bold);
        for line in wrap(face, size, &face.fit(text), TEXT_WIDTH) {
            self.advance(leading);
            self.text(LEFT, self.y, size, bold, line);
        }
    }

    fn code(&mut self, code: &str) {
        let face = self.face(true);
        let lines = wrap(
            face,
            CODE_SIZE,
            &face.fit(code),
            TEXT_WIDTH - 2.0 * CODE_PADDING,
        );
        let widest = lines
            .iter()
            .map(|line| face.width(line, CODE_SIZE))
            .fold(0.0, f32::max);
        // the code is capitals and digits: padding around their cap height looks even
        let cap = 0.73 * CODE_SIZE;
        let height =
            2.0 * CODE_PADDING + cap + CODE_LEADING * (lines.len().saturating_sub(1)) as f32;
        let mut top = self.y + LEADING;
        if top + height > BOTTOM {
            self.new_page();
            top = self.y;
        }
        self.push(Item::Frame {
            x: LEFT,
            y: top,
            width: widest + 2.0 * CODE_PADDING,
            height,
        });
        for (i, line) in lines.into_iter().enumerate() {
            let baseline = top + CODE_PADDING + cap + CODE_LEADING * i as f32;
            self.text(LEFT + CODE_PADDING, baseline, CODE_SIZE, true, line);
        }
        self.y = top + height;
    }

    fn letter(&mut self, words: &Wording, code: &str, issuer: &str) {
        let face = self.face(false);
        let date = face.fit(&words.date);
        let width = face.width(&date, BODY_SIZE);
        self.text(RIGHT - width, DATE_BASELINE, BODY_SIZE, false, date);

        self.y = SUBJECT_BASELINE - LEADING;
        self.paragraph(&words.subject, BODY_SIZE, true, LEADING);
        self.y += LEADING;
        self.paragraph(words.salutation, BODY_SIZE, false, LEADING);
        for text in [words.request.as_str(), words.code_intro] {
            self.y += LEADING / 2.0;
            self.paragraph(text, BODY_SIZE, false, LEADING);
        }
        self.code(code);
        self.y += LEADING / 2.0;
        self.paragraph(&words.instructions, BODY_SIZE, false, LEADING);
        if let Some(revocation) = &words.revocation {
            self.y += LEADING / 2.0;
            self.paragraph(revocation, BODY_SIZE, false, LEADING);
        }
        self.y += LEADING;
        self.paragraph(words.closing, BODY_SIZE, false, LEADING);
        self.y += LEADING;
        self.paragraph(issuer, BODY_SIZE, false, LEADING);
        self.y += LEADING / 2.0;
        self.paragraph(words.unsigned, NOTE_SIZE, false, NOTE_SIZE * 1.3);
    }

    fn finish(mut self, words: &Wording) -> Vec<Page> {
        let count = self.pages.len();
        if count > 1 {
            let face = self.face(false);
            for (i, page) in self.pages.iter_mut().enumerate() {
                let text = (words.page_of)(i + 1, count);
                let width = face.width(&text, NOTE_SIZE);
                page.items.push(Item::Text {
                    x: RIGHT - width,
                    y: FOOTER_BASELINE,
                    size: NOTE_SIZE,
                    bold: false,
                    text,
                    width,
                });
            }
        }
        self.pages
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::date;

    use super::*;

    const ORGANISATION: &str = "Müller & Söhne Großhandel GmbH";

    fn letter(language: Language) -> ConfirmationLetter {
        ConfirmationLetter {
            language,
            recipient_lines: vec![
                "An die Geschäftsführung".to_owned(),
                ORGANISATION.to_owned(),
                "Äußere Wiener Straße 12".to_owned(),
                "81667 München".to_owned(),
            ],
            organisation_name: ORGANISATION.to_owned(),
            register_entry: Some("Amtsgericht München HRB 123456".to_owned()),
            requested_by: "Jörg Öztürk-Weiß".to_owned(),
            code: "K7QF-2MXD-9PLA".to_owned(),
            revocation_hint: true,
            issued_on: date!(2025 - 03 - 12),
            valid_until: date!(2025 - 04 - 11),
            issuer_name: "konto".to_owned(),
            issuer_url: "https://konto.example/org/confirm".to_owned(),
        }
    }

    fn text_of(pdf: &[u8]) -> String {
        pdf_extract::extract_text_from_mem(pdf).unwrap()
    }

    /// The text with all white space removed, so that words broken over lines still match.
    fn squeezed(text: &str) -> String {
        text.split_whitespace().collect()
    }

    fn pages(letter: &ConfirmationLetter) -> Vec<Page> {
        compose(letter, fonts().unwrap()).unwrap()
    }

    fn assert_on_page(pages: &[Page]) {
        for page in pages {
            for item in &page.items {
                if let Item::Text {
                    x, y, width, text, ..
                } = item
                {
                    assert!(*x >= LEFT - 0.01, "{text}");
                    assert!(x + width <= RIGHT + 0.01, "{text}: {x} + {width}");
                    assert!(*y > 0.0 && *y <= PAGE_HEIGHT - 10.0 * MM, "{text}: {y}");
                }
            }
        }
    }

    #[test]
    fn german_letter_says_who_asked_and_shows_the_code() {
        let pdf = render(&letter(Language::De)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = text_of(&pdf);
        for expected in [
            "K7QF-2MXD-9PLA",
            ORGANISATION,
            "An die Geschäftsführung",
            "Äußere Wiener Straße 12",
            "81667 München",
            "Jörg Öztürk-Weiß",
            "Amtsgericht München HRB 123456",
            "12. März 2025",
            "11. April 2025",
            "Mit freundlichen Grüßen",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
        let text = squeezed(&text);
        for expected in [
            "Bestätigung der Administratorin / des Administrators für",
            "https://konto.example/org/confirm",
            "geben Sie den Code bitte nicht weiter",
        ] {
            assert!(text.contains(&squeezed(expected)), "{expected:?} missing");
        }
        assert_eq!(pages(&letter(Language::De)).len(), 1);
    }

    #[test]
    fn english_letter_says_the_same() {
        let pdf = render(&letter(Language::En)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = text_of(&pdf);
        for expected in [
            "K7QF-2MXD-9PLA",
            ORGANISATION,
            "Jörg Öztürk-Weiß",
            "12 March 2025",
            "11 April 2025",
            "Yours faithfully,",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
        let text = squeezed(&text);
        for expected in [
            "Confirmation of the administrator for",
            "please do not pass on the code",
        ] {
            assert!(text.contains(&squeezed(expected)), "{expected:?} missing");
        }
        assert_eq!(pages(&letter(Language::En)).len(), 1);
    }

    #[test]
    fn names_outside_western_europe_keep_their_letters() {
        let mut letter = letter(Language::De);
        letter.requested_by = "Łukasz Dąbrowski-Dvořák".to_owned();
        letter.organisation_name = "Ελληνική Εταιρεία Москва ООО".to_owned();
        let text = text_of(&render(&letter).unwrap());
        assert!(text.contains("Łukasz Dąbrowski-Dvořák"), "{text}");
        assert!(text.contains("Ελληνική Εταιρεία Москва ООО"), "{text}");
    }

    #[test]
    fn without_the_hint_the_management_paragraph_is_left_out() {
        let mut letter = letter(Language::De);
        letter.revocation_hint = false;
        let text = squeezed(&text_of(&render(&letter).unwrap()));
        assert!(!text.contains(&squeezed("nicht weiter")));
        assert!(text.contains("K7QF-2MXD-9PLA"));
    }

    #[test]
    fn a_long_organisation_name_wraps_and_stays_on_the_page() {
        let mut letter = letter(Language::De);
        let name =
            "Müller & Söhne Großhandel für Wälzlager und Antriebstechnik GmbH & Co. KG ".repeat(5);
        letter.organisation_name = name.chars().take(300).collect();
        assert_eq!(letter.organisation_name.chars().count(), 300);
        let laid_out = pages(&letter);
        assert_eq!(laid_out.len(), 1);
        assert_on_page(&laid_out);
        let text = squeezed(&text_of(&render(&letter).unwrap()));
        assert!(text.contains(&squeezed(&letter.organisation_name)));
        assert!(text.contains("K7QF-2MXD-9PLA"));
    }

    #[test]
    fn every_field_at_its_limit_still_fits_the_margins() {
        let wide = |n: usize| "WM".repeat(n / 2);
        let mut letter = letter(Language::En);
        letter.organisation_name = wide(MAX_ORGANISATION);
        letter.requested_by = wide(MAX_NAME);
        letter.register_entry = Some(wide(MAX_REGISTER));
        letter.code = wide(MAX_CODE);
        letter.issuer_url = wide(MAX_URL);
        letter.issuer_name = "Müller ".repeat(6);
        let laid_out = pages(&letter);
        assert!(laid_out.len() > 1);
        assert_on_page(&laid_out);
        let text = text_of(&render(&letter).unwrap());
        assert!(
            text.contains(&format!("Page 2 of {}", laid_out.len())),
            "{text}"
        );
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        let mut empty_code = letter(Language::De);
        empty_code.code = " \n\u{200B}".to_owned();
        assert!(matches!(
            render(&empty_code),
            Err(LetterError::Empty { field: "code" })
        ));

        let mut backwards = letter(Language::De);
        backwards.valid_until = date!(2025 - 03 - 11);
        assert!(matches!(
            render(&backwards),
            Err(LetterError::ValidBeforeIssued { .. })
        ));

        let mut crowded = letter(Language::De);
        crowded.recipient_lines = vec!["Line".to_owned(); 7];
        assert!(matches!(
            render(&crowded),
            Err(LetterError::DoesNotFit {
                field: "recipient_lines"
            })
        ));
        crowded.recipient_lines = vec!["Wörter ".repeat(28); 2];
        assert!(matches!(
            render(&crowded),
            Err(LetterError::DoesNotFit {
                field: "recipient_lines"
            })
        ));

        let mut long = letter(Language::De);
        long.requested_by = "x".repeat(MAX_NAME + 1);
        let error = render(&long).unwrap_err();
        assert_eq!(
            error.to_string(),
            "requested_by is longer than 200 characters"
        );
    }

    #[test]
    fn blank_optional_values_are_left_out() {
        let mut letter = letter(Language::De);
        letter.register_entry = Some("  ".to_owned());
        letter.recipient_lines.insert(1, String::new());
        let text = text_of(&render(&letter).unwrap());
        assert!(!text.contains("()"), "{text}");
        assert!(text.contains("81667 München"));
    }

    #[test]
    fn the_document_information_names_nobody() {
        let pdf = render(&letter(Language::De)).unwrap();
        for key in [
            &b"/Title"[..],
            b"/Author",
            b"/Subject",
            b"/Keywords",
            b"/CreationDate",
        ] {
            assert!(!pdf.windows(key.len()).any(|w| w == key));
        }
    }

    /// Any text a form could send: control characters, invisible and unassigned characters,
    /// emoji, very long values.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\\x00-\\x1f\\x7f\u{85}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{feff} a-zÄÖÜäöüß🦀😀👩‍👩‍👧\u{e000}\u{10ffff}\u{301}]{0,80}",
            "\\PC{0,700}",
            Just("W".repeat(2_000)),
        ]
    }

    /// Short enough for every field, so that rendering gets past the checks.
    fn short_hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{1,40}",
            "[\\x00-\\x1f\\x7f\u{85}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{feff} a-zÄÖÜäöüß🦀😀👩‍👩‍👧\u{e000}\u{10ffff}\u{301}]{1,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn render_never_panics(
            german in any::<bool>(),
            recipient_lines in proptest::collection::vec(any_text(), 0..8),
            organisation_name in any_text(),
            register_entry in proptest::option::of(any_text()),
            requested_by in any_text(),
            code in any_text(),
            revocation_hint in any::<bool>(),
            issuer_name in any_text(),
            issuer_url in any_text(),
            days in 0i64..400,
        ) {
            let letter = ConfirmationLetter {
                language: if german { Language::De } else { Language::En },
                recipient_lines,
                organisation_name,
                register_entry,
                requested_by,
                code,
                revocation_hint,
                issued_on: date!(2025 - 03 - 12),
                valid_until: date!(2025 - 03 - 12) + time::Duration::days(days),
                issuer_name,
                issuer_url,
            };
            match render(&letter) {
                Ok(pdf) => prop_assert!(pdf.starts_with(b"%PDF-")),
                Err(LetterError::Pdf(e)) => prop_assert!(false, "pdf error {e}"),
                Err(LetterError::Font) => prop_assert!(false, "font error"),
                Err(_) => {}
            }
        }

        #[test]
        fn short_hostile_text_renders(
            recipient_lines in proptest::collection::vec(short_hostile_text(), 1..5),
            organisation_name in short_hostile_text(),
            register_entry in proptest::option::of(short_hostile_text()),
            requested_by in short_hostile_text(),
            code in short_hostile_text(),
            issuer_name in short_hostile_text(),
            issuer_url in short_hostile_text(),
        ) {
            let letter = ConfirmationLetter {
                recipient_lines,
                organisation_name,
                register_entry,
                requested_by,
                code,
                issuer_name,
                issuer_url,
                ..letter(Language::De)
            };
            match render(&letter) {
                Ok(pdf) => prop_assert!(pdf.starts_with(b"%PDF-")),
                // a value of nothing but spaces and invisible characters is empty once cleaned
                Err(LetterError::Empty { .. }) => {}
                // four long lines of wide characters can take more than the address's six lines
                Err(LetterError::DoesNotFit { field: "recipient_lines" }) => {}
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
