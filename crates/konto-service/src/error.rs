//! The services' errors: what the user or caller did wrong, or that konto failed.

use konto_core::attributes::AttributeName;
use konto_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The login flow is unknown, expired, or was started in another browser.
    #[error("the login is unknown or has expired")]
    FlowNotFound,
    /// Another request took this step of the flow first (a form sent twice, a replay).
    #[error("this step of the login was already taken")]
    StepTaken,
    /// A hand-off from outside (the certificate listener, the eID client) reached a browser
    /// other than the one that started the login: its result was discarded.
    #[error("the login was continued in another browser")]
    ForeignBrowser,
    #[error("the user name or password is wrong")]
    BadCredentials,
    /// Too many failed attempts: wait until the given Unix time.
    #[error("too many attempts; try again later")]
    Throttled { retry_at: i64 },
    #[error("this authenticator is not available")]
    NotAvailable,
    #[error("the passkey could not be verified")]
    PasskeyRejected,
    /// The authenticator belongs to another account than the one signed in.
    #[error("this authenticator belongs to another account")]
    BelongsToAnotherAccount,
    /// The identity of the authenticator differs from the account's: never merge two people.
    #[error("the identity data does not match the account")]
    IdentityConflict { attributes: Vec<AttributeName> },
    #[error("the account already has an authenticator of this kind")]
    AlreadyLinked,
    #[error("the password is not acceptable: {0}")]
    WeakPassword(#[from] konto_core::password_policy::PasswordRejection),
    #[error("the e-mail address is not valid")]
    BadEmail,
    #[error("the link is invalid, used or expired")]
    BadLink,
    #[error("this data comes from a verified source and cannot be changed")]
    NotEditable,
    #[error("the account needs at least one way to sign in")]
    LastAuthenticator,
    #[error("registration is closed")]
    RegistrationClosed,
    #[error("the request is invalid: {0}")]
    Invalid(String),
    #[error("the certificate was refused: {0}")]
    Certificate(String),
    #[error("the eID login failed: {0}")]
    Eid(String),
    /// The session's level is below what the action needs: step up first.
    #[error("this needs a sign-in at level {needed} or higher")]
    LevelTooLow { needed: konto_core::Level },
    /// The person's name and date of birth are not from the eID card or an ELSTER certificate.
    #[error("your identity is not verified by the eID card or an ELSTER certificate")]
    IdentityNotVerified,
    #[error("the register has no active entry with this key")]
    NotInRegister,
    #[error("the commercial register cannot be reached")]
    RegisterUnavailable,
    #[error("you are not listed as a legal representative of this organisation")]
    NotARepresentative,
    #[error("the organisation already has an account")]
    OrganisationExists,
    #[error("the confirmation code is wrong or has expired")]
    BadCode,
    /// The signed-in person may not do this for this organisation or mandate.
    #[error("you may not do this")]
    NotAllowed,
    #[error("the organisation's administrator has not been confirmed yet")]
    NotConfirmed,
    #[error("no such organisation, person or mandate")]
    UnknownParty,
    #[error("the mandate is not in a state that allows this")]
    MandateState,
    /// The person is the last administrator of an organisation that has other members.
    #[error("an organisation would be left without an administrator")]
    LastAdministrator,
    /// A confirmation letter is on its way; another can be asked for later.
    #[error("a confirmation letter is on its way")]
    LetterPending,
    /// No postbox with that handle was given to this client (or none exists: the same answer).
    #[error("unknown recipient")]
    UnknownRecipient,
    /// The `Idempotency-Key` was used before for a different message.
    #[error("the idempotency key was used for another message")]
    IdempotencyConflict,
    /// A message field is missing, too long or malformed.
    #[error("{0}")]
    Message(#[from] konto_core::postbox::MessageError),
    /// No such message in this postbox.
    #[error("no such message")]
    NoMessage,
    #[error("storage unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ServiceError::Unavailable,
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<konto_keys::random::NoRandomness> for ServiceError {
    fn from(e: konto_keys::random::NoRandomness) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl From<konto_authn::password::PasswordError> for ServiceError {
    fn from(e: konto_authn::password::PasswordError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}
