use time::Date;

/// Why a letter could not be rendered or delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LetterError {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} does not fit into its place on the letter")]
    DoesNotFit { field: &'static str },
    #[error(
        "the code would be valid until {valid_until}, before the letter is issued on {issued_on}"
    )]
    ValidBeforeIssued { issued_on: Date, valid_until: Date },
    #[error("the embedded font cannot be read")]
    Font,
    #[error("pdf: {0}")]
    Pdf(String),
    #[error("the organisation id cannot be part of a file name")]
    InvalidOrganisationId,
    #[error("delivering the letter: {0}")]
    Io(#[from] std::io::Error),
}
