//! Fonts, text clean-up, line breaking and the placed items of a page.
//!
//! Glyphs are placed here rather than by a shaper: the letter is Latin, Greek or Cyrillic text
//! set left to right, and measuring and drawing with the same advances is what keeps a wrapped
//! line inside the margin it was measured for.

use std::sync::LazyLock;

use krilla::text::{Font as PdfFont, GlyphId as PdfGlyphId, KrillaGlyph};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};
use unicode_normalization::UnicodeNormalization;

use crate::LetterError;

static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Drawn for a character the font has no glyph for, so the reader sees that something is missing
/// instead of an empty box or nothing at all.
const REPLACEMENT: char = '?';

/// One typeface: the font krilla embeds and the metrics the line breaker measures with.
pub(crate) struct Face {
    pdf: PdfFont,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8]) -> Option<Face> {
        let font = FontRef::new(data).ok()?;
        let units_per_em = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        if units_per_em <= 0.0 {
            return None;
        }
        let face = Face {
            pdf: PdfFont::new(data.into(), 0)?,
            charmap: font.charmap(),
            metrics: font.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
        };
        // every unknown character falls back to this one, so it has to be there
        face.glyph(REPLACEMENT)?;
        Some(face)
    }

    pub(crate) fn pdf_font(&self) -> PdfFont {
        self.pdf.clone()
    }

    /// The glyph for `c` and its advance in em, if the face has one.
    fn glyph(&self, c: char) -> Option<(u32, f32)> {
        let id = self.charmap.map(c)?;
        // glyph 0 is .notdef: "mapped" to nothing visible
        if id.to_u32() == 0 {
            return None;
        }
        let advance = self.metrics.advance_width(id)?;
        Some((id.to_u32(), advance / self.units_per_em))
    }

    fn glyph_or_replacement(&self, c: char) -> (u32, f32) {
        self.glyph(c)
            .or_else(|| self.glyph(REPLACEMENT))
            .unwrap_or((0, 0.0))
    }

    /// `text` with each character this face cannot draw replaced, so that the text behind the
    /// glyphs (what a reader copies or searches) says what the page shows.
    pub(crate) fn fit(&self, text: &str) -> String {
        text.chars()
            .map(|c| {
                if c == ' ' || self.glyph(c).is_some() {
                    c
                } else {
                    REPLACEMENT
                }
            })
            .collect()
    }

    /// Width of `text` in points at `size`.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.glyph_or_replacement(c).1)
            .sum::<f32>()
            * size
    }

    /// One glyph per character, each tied to its character for the text layer.
    pub(crate) fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(at, c)| {
                let (id, advance) = self.glyph_or_replacement(c);
                KrillaGlyph::new(
                    PdfGlyphId::new(id),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    at..at + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }
}

pub(crate) struct Fonts {
    pub(crate) regular: Face,
    pub(crate) bold: Face,
}

static FONTS: LazyLock<Option<Fonts>> = LazyLock::new(|| {
    Some(Fonts {
        regular: Face::load(REGULAR)?,
        bold: Face::load(BOLD)?,
    })
});

pub(crate) fn fonts() -> Result<&'static Fonts, LetterError> {
    FONTS.as_ref().ok_or(LetterError::Font)
}

/// Whether `c` is invisible yet changes what is shown around it: bidi overrides could make a
/// name read differently from how it is stored, and zero-width characters could hide text.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// One line of plain text out of whatever a form field held: composed characters (so "u" plus a
/// combining diaeresis prints as one "ü"), every kind of space, line break and control character
/// as a single space, invisible formatting characters dropped.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.nfc() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
        } else if !is_invisible_format(c) {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Breaks `text` (clean, fitted to `face`) into lines no wider than `max_width` points: at spaces
/// where it can, inside a word where a single word is wider than the line.
pub(crate) fn wrap(face: &Face, size: f32, text: &str, max_width: f32) -> Vec<String> {
    let space = face.width(" ", size);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0.0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let width = face.width(word, size);
        if !line.is_empty() && line_width + space + width <= max_width {
            line.push(' ');
            line.push_str(word);
            line_width += space + width;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if width <= max_width {
            line.push_str(word);
            line_width = width;
            continue;
        }
        line_width = 0.0;
        for c in word.chars() {
            let w = face.width(c.encode_utf8(&mut [0; 4]), size);
            // a line always takes at least one character, or a glyph wider than the line would
            // never be placed
            if !line.is_empty() && line_width + w > max_width {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
            }
            line.push(c);
            line_width += w;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Something drawn on a page. Coordinates are points from the page's top left corner; `y` of a
/// text is its baseline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
        width: f32,
    },
    Frame {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
    Rule {
        x: f32,
        y: f32,
        width: f32,
    },
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Page {
    pub(crate) items: Vec<Item>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_makes_one_line_of_visible_text() {
        assert_eq!(clean("  Müller\n&\tSöhne\r\n "), "Müller & Söhne");
        assert_eq!(clean("Mu\u{0308}ller"), "Müller");
        assert_eq!(clean("a\u{202E}b\u{200B}c\u{0007}d"), "abc d");
        assert_eq!(clean("\u{0000}\u{FEFF}"), "");
    }

    #[test]
    fn unknown_characters_are_replaced_and_umlauts_kept() {
        let face = &fonts().unwrap().regular;
        assert_eq!(face.fit("Größe ÄÖÜ äöü ß"), "Größe ÄÖÜ äöü ß");
        assert_eq!(
            face.fit("Łódź Dvořák Ελλάδα Москва"),
            "Łódź Dvořák Ελλάδα Москва"
        );
        assert_eq!(face.fit("a\u{E000}b 🦀"), "a?b ?");
    }

    #[test]
    fn wrapped_lines_fit_and_keep_every_word() {
        let face = &fonts().unwrap().regular;
        let text = "Müller & Söhne Großhandel GmbH ".repeat(12) + &"W".repeat(200);
        let text = face.fit(clean(&text).as_str());
        let lines = wrap(face, 11.0, &text, 200.0);
        assert!(lines.len() > 10);
        for line in &lines {
            assert!(face.width(line, 11.0) <= 200.0, "{line}");
        }
        let rejoined: String = lines.concat().split_whitespace().collect();
        let original: String = text.split_whitespace().collect();
        assert_eq!(rejoined, original);
    }

    #[test]
    fn wrap_of_nothing_is_no_line() {
        let face = &fonts().unwrap().regular;
        assert!(wrap(face, 11.0, "", 100.0).is_empty());
        assert_eq!(wrap(face, 11.0, "W", 1.0), vec!["W"]);
    }
}
