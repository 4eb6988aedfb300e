//! Password rules after NIST SP 800-63B §3.1.1.2 (rev. 4): at least 8 characters, at most
//! [`MAX_LENGTH`], any characters, no composition rules, and no password that attackers try first.
//!
//! "Try first" is judged with zxcvbn's guess estimate, which is built on lists of leaked passwords,
//! dictionary words and names, and recognises repetitions, sequences, keyboard walks and dates;
//! context words (the user name, the e-mail address, the service's name) count as dictionary words.
//! A password estimated to fall within [`MIN_GUESSES`] guesses is refused with a reason.

/// Minimum length in characters (Unicode scalar values), NIST's floor.
pub const MIN_LENGTH: usize = 8;
/// Maximum length; NIST asks for at least 64. Bounded so a hash request stays cheap to parse.
pub const MAX_LENGTH: usize = 256;
/// Passwords guessable in fewer tries than this are refused (zxcvbn score 0–1).
pub const MIN_GUESSES: u64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("the password must have at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password must have at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("the password is among those attackers try first")]
    Common,
    #[error("the password must not contain your user name or e-mail address")]
    ContainsContext,
}

/// Checks a new password. `context` holds the user name, e-mail address and similar words.
pub fn check(password: &str, context: &[&str]) -> Result<(), PasswordRejection> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(PasswordRejection::TooShort);
    }
    if len > MAX_LENGTH {
        return Err(PasswordRejection::TooLong);
    }
    let lowered = password.to_lowercase();
    for word in context {
        let word = word.trim().to_lowercase();
        let local = word.split('@').next().unwrap_or("");
        if (local.chars().count() >= 4 && lowered.contains(local))
            || (word.chars().count() >= 4 && lowered.contains(&word))
        {
            return Err(PasswordRejection::ContainsContext);
        }
    }
    let mut inputs: Vec<&str> = vec!["konto", "bundid", "nutzerkonto", "passwort", "password"];
    inputs.extend_from_slice(context);
    let entropy = zxcvbn::zxcvbn(password, &inputs);
    if entropy.guesses() < MIN_GUESSES {
        return Err(PasswordRejection::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds() {
        assert_eq!(check("kurz", &[]), Err(PasswordRejection::TooShort));
        assert_eq!(
            check(&"x".repeat(MAX_LENGTH + 1), &[]),
            Err(PasswordRejection::TooLong)
        );
        // eight characters counted as characters, not bytes
        assert_eq!(check("äöüäöüä", &[]), Err(PasswordRejection::TooShort));
    }

    #[test]
    fn common_and_patterned_passwords_are_refused() {
        for p in [
            "password",
            "12345678",
            "Passwort1",
            "qwertzuiop",
            "aaaaaaaaaaaa",
            "iloveyou1",
            "konto2026",
        ] {
            assert_eq!(check(p, &[]), Err(PasswordRejection::Common), "{p}");
        }
    }

    #[test]
    fn context_words_are_refused() {
        assert_eq!(
            check("erika.mustermann-2026!", &["erika.mustermann@example.org"]),
            Err(PasswordRejection::ContainsContext)
        );
    }

    #[test]
    fn no_composition_rules() {
        // long lowercase passphrases are fine, no digits or symbols required
        assert_eq!(check("wolkenkratzer pinguin laterne", &[]), Ok(()));
        assert_eq!(check("Zündholz-Quartett-Meer", &[]), Ok(()));
    }
}
