//! Outgoing e-mail: SMTP in production (lettre), files in development.
//!
//! In development mode every message is written as an `.eml` file into a folder (`data/mail/` by
//! default), where a newcomer opens the verification or reset link and tests read it.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

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
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
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

/// Writes each message as a readable `.eml` file (UTF-8, 8bit) into a folder: development mode
/// and tests read the links from there.
pub struct FileMailer {
    from: Mailbox,
    dir: PathBuf,
}

impl FileMailer {
    pub fn new(dir: PathBuf, from: &str) -> Result<FileMailer, MailError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| MailError::Config(format!("mail folder {}: {e}", dir.display())))?;
        Ok(FileMailer {
            from: from
                .parse()
                .map_err(|_| MailError::Config("mail.from is not an address".into()))?,
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
        let to: Mailbox = to.parse().map_err(|_| MailError::BadAddress)?;
        let clean = |s: &str| s.replace(['\r', '\n'], " ");
        let text = format!(
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
            self.from,
            to,
            clean(subject),
            body.replace('\n', "\r\n")
        );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).map_err(|_| MailError::Delivery("no randomness".into()))?;
        let name = format!("{nanos:024}-{}", hex::encode(random));
        // written under another name and renamed: whoever reads the folder sees a whole mail
        // or none (a reader once saw a mail that was created but not yet written)
        let partial = self.dir.join(format!("{name}.partial"));
        tokio::fs::write(&partial, text)
            .await
            .map_err(|e| MailError::Delivery(e.to_string()))?;
        tokio::fs::rename(&partial, self.dir.join(format!("{name}.eml")))
            .await
            .map_err(|e| MailError::Delivery(e.to_string()))
    }
}
