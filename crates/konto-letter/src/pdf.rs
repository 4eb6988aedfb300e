//! Drawing laid-out pages with krilla.

use krilla::Document;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};

use crate::layout::{Fonts, Item, Page};
use crate::letter::{PAGE_HEIGHT, PAGE_WIDTH};
use crate::{Language, LetterError};

pub(crate) fn write(
    pages: &[Page],
    fonts: &Fonts,
    language: Language,
) -> Result<Vec<u8>, LetterError> {
    let mut document = Document::new();
    // the language lets screen readers pick the right voice; no title, author or date is set, so
    // the document information holds nothing beyond the page
    let language = match language {
        Language::De => "de",
        Language::En => "en",
    };
    document.set_metadata(Metadata::new().language(language.to_owned()));
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| LetterError::Pdf("invalid page size".to_owned()))?;
    for page in pages {
        let mut pdf_page = document.start_page_with(settings.clone());
        let mut surface = pdf_page.surface();
        for item in &page.items {
            match item {
                Item::Text {
                    x,
                    y,
                    size,
                    bold,
                    text,
                    ..
                } => {
                    let face = if *bold { &fonts.bold } else { &fonts.regular };
                    surface.set_stroke(None);
                    surface.set_fill(Some(Fill::default()));
                    surface.draw_glyphs(
                        Point::from_xy(*x, *y),
                        &face.glyphs(text),
                        face.pdf_font(),
                        text,
                        *size,
                        false,
                    );
                }
                Item::Frame {
                    x,
                    y,
                    width,
                    height,
                } => {
                    let mut path = PathBuilder::new();
                    if let Some(rect) = Rect::from_xywh(*x, *y, *width, *height) {
                        path.push_rect(rect);
                    }
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            width: 0.8,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
                Item::Rule { x, y, width } => {
                    let mut path = PathBuilder::new();
                    path.move_to(*x, *y);
                    path.line_to(*x + *width, *y);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            width: 0.4,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        pdf_page.finish();
    }
    document
        .finish()
        .map_err(|e| LetterError::Pdf(e.to_string()))
}
