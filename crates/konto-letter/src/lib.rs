#![doc = include_str!("../README.md")]

mod deliver;
mod error;
mod layout;
mod letter;
mod pdf;
mod wording;

pub use deliver::{FolderLetters, LetterBox};
pub use error::LetterError;
pub use letter::{ConfirmationLetter, Language, render};
