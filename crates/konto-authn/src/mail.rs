//! Outgoing e-mail: SMTP in production (lettre), files in development.
//!
//! In development mode every message is written as an `.eml` file into a folder (`data/mail/` by
//! default), where a newcomer opens the verification or reset link and tests read it.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the address is not a valid e-mail address")]
    BadAddress,
    #[error("the message could not be built")]
    Build,
    #[error("the mail could not be delivered: {0}")]
    Delivery(String),
    #[error("mail configuration: {0}")]
    Config(String),
}

/// Something that delivers a plain-text message.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError>;
}

fn message(from: &Mailbox, to: &str, subject: &str, body: &str) -> Result<Message, MailError> {
    let to: Mailbox = to.parse().map_err(|_| MailError::BadAddress)?;
    // 8bit keeps the text (and its links) readable in the files of development mode
    let body = Body::new_with_encoding(body.to_owned(), ContentTransferEncoding::EightBit)
        .unwrap_or_else(|raw| Body::new(raw));
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|_| MailError::Build)
}

/// SMTP with STARTTLS or implicit TLS, per the URL (`smtp://`, `smtps://`; lettre's URL format).
pub struct SmtpMailer {
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    pub fn new(
        url: &str,
        from: &str,
        credentials: Option<(String, String)>,
    ) -> Result<SmtpMailer, MailError> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config(format!("SMTP URL: {e}")))?;
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(SmtpMailer {
            from: from
                .parse()
                .map_err(|_| MailError::Config("mail.from is not an address".into()))?,
            transport: builder.build(),
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        let msg = message(&self.from, to, subject, body)?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Delivery(e.to_string()))
    }
}

/// Writes each message to `<dir>/<id>.eml`.
pub struct FileMailer {
    from: Mailbox,
    dir: PathBuf,
    transport: AsyncFileTransport<Tokio1Executor>,
}

impl FileMailer {
    pub fn new(dir: PathBuf, from: &str) -> Result<FileMailer, MailError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| MailError::Config(format!("mail folder {}: {e}", dir.display())))?;
        Ok(FileMailer {
            from: from
                .parse()
                .map_err(|_| MailError::Config("mail.from is not an address".into()))?,
            transport: AsyncFileTransport::new(&dir),
            dir,
        })
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        let msg = message(&self.from, to, subject, body)?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Delivery(e.to_string()))
    }
}
