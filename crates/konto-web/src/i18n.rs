//! Page texts in German (the default) and English, chosen by `ui_locales`, then `Accept-Language`.

macro_rules! texts {
    ($($key:ident: $de:expr, $en:expr;)*) => {
        /// Every text a page shows, in one language.
        #[derive(Debug)]
        pub struct Texts {
            pub lang: &'static str,
            $(pub $key: &'static str,)*
        }
        pub static DE: Texts = Texts { lang: "de", $($key: $de,)* };
        pub static EN: Texts = Texts { lang: "en", $($key: $en,)* };
    };
}

texts! {
    site_name: "konto – Nutzerkonto", "konto – user account";
    skip_link: "Zum Inhalt springen", "Skip to content";
    dev_banner: "Entwicklungsmodus: öffentliche Testschlüssel, Demo-Konto und Demo-Dienst. Nicht für echte Daten.", "Development mode: public test keys, demo account and demo service. Not for real data.";
    footer: "konto – Nutzerkonto für Verwaltungsleistungen nach dem Onlinezugangsgesetz", "konto – user account for public services under the German Online Access Act";
    language_switch: "English", "Deutsch";
    level_basic: "Basisregistrierung", "basic";
    level_low: "niedrig", "low";
    level_substantial: "substanziell", "substantial";
    level_high: "hoch", "high";

    login_title: "Anmelden", "Sign in";
    login_for: "Anmeldung für", "Signing in to";
    login_reason_sign_in: "Bitte melden Sie sich an.", "Please sign in.";
    login_reason_step_up: "Dieser Dienst verlangt ein höheres Vertrauensniveau als Ihre aktuelle Anmeldung. Bitte bestätigen Sie Ihre Identität mit einem der folgenden Verfahren.", "This service needs a higher level of assurance than your current sign-in. Please confirm your identity with one of the following.";
    login_reason_reauth: "Bitte melden Sie sich erneut an.", "Please sign in again.";
    login_current_level: "Aktuelles Vertrauensniveau", "Current level of assurance";
    login_required_level: "Verlangtes Vertrauensniveau", "Required level of assurance";
    username: "Benutzername oder E-Mail-Adresse", "User name or e-mail address";
    password: "Passwort", "Password";
    sign_in: "Anmelden", "Sign in";
    forgot_password: "Passwort vergessen?", "Forgot your password?";
    no_account: "Noch kein Konto?", "No account yet?";
    register_link: "Konto anlegen", "Create an account";
    or_with: "Oder anmelden mit", "Or sign in with";
    with_passkey: "Passkey (ohne Passwort)", "Passkey (no password)";
    passkey_hint: "Geben Sie oben Ihren Benutzernamen ein und wählen Sie dann Passkey.", "Enter your user name above, then choose passkey.";
    with_elster: "ELSTER-Zertifikat", "ELSTER certificate";
    elster_hint: "Ihr Browser fragt nach dem in ihm gespeicherten ELSTER-Zertifikat.", "Your browser will ask for the ELSTER certificate stored in it.";
    with_eid: "Online-Ausweis", "eID card (Online-Ausweis)";
    eid_hint: "Sie benötigen die AusweisApp und Ihren Ausweis mit PIN.", "You need the AusweisApp and your ID card with its PIN.";
    cancel: "Abbrechen und zum Dienst zurück", "Cancel and return to the service";
    err_credentials: "Benutzername oder Passwort ist falsch.", "The user name or password is wrong.";
    err_throttled: "Zu viele Versuche. Bitte warten Sie, bevor Sie es erneut versuchen. Sekunden:", "Too many attempts. Please wait before trying again. Seconds:";
    err_passkey: "Der Passkey konnte nicht bestätigt werden.", "The passkey could not be verified.";
    err_other_account: "Dieses Anmeldeverfahren gehört zu einem anderen Konto als dem, mit dem Sie angemeldet sind.", "This authenticator belongs to another account than the one you are signed in with.";
    err_conflict: "Die Identitätsdaten passen nicht zu Ihrem Konto. Aus Sicherheitsgründen werden keine zwei Personen zusammengeführt. Abweichend:", "The identity data does not match your account. For your safety two people are never merged. Differing:";
    err_already_linked: "Ihr Konto hat bereits ein Verfahren dieser Art.", "Your account already has an authenticator of this kind.";
    err_unavailable: "Dieses Verfahren ist hier nicht verfügbar.", "This method is not available here.";
    err_cert_prefix: "Das Zertifikat wurde nicht angenommen:", "The certificate was not accepted:";
    err_eid_prefix: "Die Anmeldung mit dem Online-Ausweis ist fehlgeschlagen:", "Signing in with the eID card failed:";
    notice_linked: "Das Anmeldeverfahren wurde Ihrem Konto hinzugefügt; die übereinstimmenden Daten gelten nun als bestätigt.", "The authenticator was added to your account; matching data now counts as verified.";
    notice_conflict: "Das Anmeldeverfahren wurde nicht hinzugefügt: die Identitätsdaten passen nicht zu Ihrem Konto.", "The authenticator was not added: its identity data does not match your account.";
    try_again: "Erneut versuchen", "Try again";

    second_factor_title: "Zweiter Faktor", "Second factor";
    second_factor_text: "Ihr Konto ist mit einem Passkey geschützt. Bitte bestätigen Sie die Anmeldung mit Ihrem Passkey.", "Your account is protected with a passkey. Please confirm the sign-in with your passkey.";
    use_passkey: "Passkey verwenden", "Use passkey";
    needs_js: "Für Passkeys muss JavaScript aktiviert sein.", "Passkeys need JavaScript.";

    unlinked_title: "Kein Konto gefunden", "No account found";
    unlinked_text: "Zu diesem Ausweis bzw. Zertifikat gibt es noch kein Konto. Diese Daten wurden übermittelt:", "There is no account for this ID card or certificate yet. These data were transmitted:";
    unlinked_create: "Konto mit diesen Daten anlegen", "Create an account with these data";
    unlinked_temporary: "Ohne Konto fortfahren (einmalige Anmeldung, nichts wird gespeichert)", "Continue without an account (one-time sign-in, nothing is stored)";
    unlinked_link: "Sie haben schon ein Konto? Melden Sie sich mit Ihrem Passwort an; das Verfahren wird dann Ihrem Konto hinzugefügt.", "Already have an account? Sign in with your password; the method is then added to your account.";

    consent_title: "Zustimmung", "Consent";
    consent_text: "Der folgende Dienst möchte auf Daten aus Ihrem Konto zugreifen:", "The following service asks for data from your account:";
    consent_items: "Angefragt werden:", "Requested:";
    consent_allow: "Zustimmen", "Allow";
    consent_deny: "Ablehnen", "Deny";
    consent_remember: "Ihre Zustimmung wird gespeichert; Sie können sie in Ihrem Konto widerrufen.", "Your consent is stored; you can revoke it in your account.";
    scope_openid: "Ihre Anmeldung (pseudonyme Kennung für diesen Dienst)", "Your sign-in (a pseudonymous identifier for this service)";
    scope_profile: "Name, Geburtsdatum und -ort, Staatsangehörigkeit", "Name, date and place of birth, nationality";
    scope_email: "E-Mail-Adresse", "E-mail address";
    scope_address: "Anschrift", "Postal address";
    scope_phone: "Telefonnummer", "Telephone number";
    scope_offline_access: "Zugriff auch, wenn Sie nicht angemeldet sind", "Access while you are not signed in";
    postbox_title: "Postfach", "Postbox";
    org_postbox: "Postfach der Organisation (Nachrichten der Dienste, für die Sie Rechte haben)", "The organisation's postbox (messages from the services you have rights for)";
    postbox_open: "Nachrichten und Bescheide lesen", "Read messages and decisions";
    postbox_empty: "Ihr Postfach ist leer.", "Your postbox is empty.";
    postbox_unread: "Neu", "New";
    postbox_locked_title: "Nachricht mit höherem Vertrauensniveau", "Message at a higher level";
    postbox_needs: "lesbar ab", "readable at";
    postbox_filtered: "Nachrichten zum Antrag", "Messages about the application";
    postbox_all: "alle Nachrichten", "all messages";
    postbox_application: "Antrag", "Application";
    postbox_kind: "Art", "Kind";
    postbox_sender: "Absender", "Sender";
    postbox_service: "Verwaltungsleistung", "Service";
    postbox_provided: "Bereitgestellt", "Provided";
    postbox_delivered: "Gilt als zugestellt am", "Counts as delivered on";
    postbox_reference: "Aktenzeichen", "Reference";
    postbox_step_up_text: "Diese Nachricht ist erst nach einer Anmeldung mit höherem Vertrauensniveau lesbar:", "This message can only be read after signing in at a higher level:";
    postbox_step_up: "Mit höherem Vertrauensniveau anmelden", "Sign in at a higher level";
    postbox_applications: "Ihre Anträge", "Your applications";
    postbox_timeline: "Stand des Antrags", "Where the application stands";
    status_initiated: "Begonnen", "Started";
    status_submitted: "Eingereicht", "Submitted";
    status_received: "Eingegangen", "Received";
    status_processing: "In Bearbeitung", "Being processed";
    status_action_required: "Ihre Mitwirkung ist nötig", "Your action is needed";
    status_completed: "Abgeschlossen", "Completed";
    postbox_delete: "Nachricht löschen", "Delete the message";
    postbox_back: "Zurück zum Postfach", "Back to the postbox";
    postbox_attachments: "Anhänge", "Attachments";
    postbox_older: "Ältere Nachrichten", "Older messages";
    postbox_reply: "Antwort an", "Reply to";
    postbox_admins_delete: "Nachrichten der Organisation löschen nur ihre Administratoren.", "Only the organisation's administrators delete its messages.";
    postbox_signed: "Vom Absender signiert: Die Signatur wurde beim Eingang geprüft, der Inhalt ist unverändert.", "Signed by the sender: the signature was checked on arrival, the content is unaltered.";
    postbox_no_message: "Diese Nachricht gibt es in Ihrem Postfach nicht.", "There is no such message in your postbox.";
    kind_message: "Nachricht", "Message";
    kind_decision: "Bescheid", "Decision";
    scope_postbox: "Die Adresse Ihres Postfachs, damit der Dienst Ihnen Nachrichten und Bescheide dorthin schicken kann", "Your postbox's address, so that the service can send you messages and decisions there";
    scope_representation: "Für wen Sie handeln (Organisation oder Vollmachtgeber) und auf welcher Grundlage", "Whom you act for (an organisation or a principal) and on what basis";
    organisations: "Organisationen", "Organisations";
    no_organisations: "Sie gehören keiner Organisation an.", "You belong to no organisation.";
    org_unconfirmed: "noch nicht bestätigt", "not yet confirmed";
    role_administrator: "Administration", "Administrator";
    role_clerk: "Sachbearbeitung", "Clerk";
    org_join_title: "Einer Organisation beitreten", "Join an organisation";
    org_join_text: "Sie wurden eingeladen, im Konto einer Organisation mitzuwirken. Sie treten mit Ihrem eigenen Konto bei; was Sie für die Organisation tun dürfen, legt deren Administration fest.", "You were invited to work in an organisation's account. You join with your own account; what you may do for the organisation is set by its administrators.";
    org_join_button: "Beitreten", "Join";
    org_joined: "Sie sind jetzt Mitglied von", "You are now a member of";
    org_title: "Organisation", "Organisation";
    org_open: "Öffnen", "Open";
    org_new_title: "Organisation anlegen", "Create an organisation";
    org_new_text: "Gesetzliche Vertreterinnen und Vertreter legen das Konto ihrer Organisation aus dem Handelsregister an. konto vergleicht Ihren geprüften Namen und Ihr Geburtsdatum mit den Vertretungsberechtigten des Registereintrags und schickt der Organisation einen Brief mit einem Bestätigungscode.", "Legal representatives create their organisation's account from the commercial register. konto compares your verified name and date of birth with the representatives in the register entry and sends the organisation a letter with a confirmation code.";
    org_new_unavailable: "Weder das Handelsregister noch die ELSTER-Anmeldung ist hier angebunden; eine Organisation kann nur der Betrieb anlegen.", "Neither the commercial register nor ELSTER sign-in is connected here; only the operator can create an organisation.";
    org_new_register: "Aus dem Handelsregister", "From the commercial register";
    org_new_cert: "Mit dem ELSTER-Organisationszertifikat", "With the organisation's ELSTER certificate";
    org_new_cert_text: "Hat Ihre Organisation ein ELSTER-Zertifikat (wie für Mein Unternehmenskonto), legen Sie ihr Konto damit an. Ihr Browser zeigt das Zertifikat vor; die Organisation ist damit sofort bestätigt und Sie sind ihre erste Administratorin oder ihr erster Administrator.", "If your organisation has an ELSTER certificate (as for Mein Unternehmenskonto), create its account with it. Your browser presents the certificate; the organisation is confirmed at once and you are its first administrator.";
    org_new_cert_button: "Mit Zertifikat anlegen", "Create with the certificate";
    org_court: "Registergericht", "Register court";
    org_register_type: "Registerart", "Register type";
    org_number: "Registernummer", "Register number";
    org_create: "Anlegen", "Create";
    org_wirtschafts_id: "Wirtschafts-Identifikationsnummer", "Business identification number";
    org_register: "Registereintrag", "Register entry";
    org_euid: "EUID", "EUID";
    org_legal_form: "Rechtsform", "Legal form";
    org_level: "Vertrauensniveau", "Level of assurance";
    org_your_role: "Ihre Rolle", "Your role";
    org_your_rights: "Ihre Rechte", "Your rights";
    org_no_rights: "Keine.", "None.";
    org_unconfirmed_text: "Die Organisation ist noch nicht bestätigt. Bis der Bestätigungscode aus dem Brief an die Organisation eingegeben ist, kann sie keine Rechte vergeben.", "The organisation is not confirmed yet. Until the confirmation code from the letter to the organisation is entered, it can grant no rights.";
    org_letter_sent: "Brief verschickt am", "Letter sent on";
    org_letter_valid: "Code gültig bis", "Code valid until";
    org_code: "Bestätigungscode", "Confirmation code";
    org_confirm: "Bestätigen", "Confirm";
    org_confirmed: "Die Organisation ist bestätigt.", "The organisation is confirmed.";
    org_members: "Mitglieder", "Members";
    org_member: "Mitglied", "Member";
    org_role: "Rolle", "Role";
    org_rights: "Rechte", "Rights";
    org_remove: "Entfernen", "Remove";
    org_invite: "Einladen", "Invite";
    org_invite_title: "Jemanden einladen", "Invite someone";
    org_email: "E-Mail-Adresse", "E-mail address";
    org_invited: "Die Einladung ist verschickt.", "The invitation has been sent.";
    org_grant_title: "Ein Recht vergeben", "Grant a right";
    org_grant: "Vergeben", "Grant";
    org_scope: "Für welche Dienste", "For which services";
    org_scope_all: "alle Dienste", "every service";
    org_scope_listed: "nur diese", "only these";
    org_scope_group: "Dienstgruppe", "service group";
    org_scope_service: "Dienst", "service";
    org_groups: "Dienstgruppen (durch Komma getrennt)", "Service groups (separated by commas)";
    org_services: "Dienste (Kennungen, durch Komma getrennt)", "Services (identifiers, separated by commas)";
    org_for_org: "für die Organisation selbst", "for the organisation itself";
    org_under_mandate: "unter der Vollmacht", "under the mandate";
    org_right_granted: "Das Recht ist vergeben.", "The right has been granted.";
    org_right_revoked: "Das Recht ist entzogen.", "The right has been revoked.";
    org_member_removed: "Das Mitglied ist entfernt.", "The member has been removed.";
    org_mandates: "Vollmachten", "Mandates";
    org_no_mandates: "Keine.", "None.";
    mandate_given: "erteilt", "given";
    mandate_received: "erhalten", "received";
    mandate_principal: "Vollmachtgeber", "Principal";
    mandate_agent: "Bevollmächtigt", "Agent";
    mandate_status: "Stand", "Status";
    mandate_valid_until: "gültig bis", "valid until";
    mandate_objection_until: "Widerspruch möglich bis", "objection possible until";
    mandate_offered: "angeboten", "offered";
    mandate_accepted: "angenommen", "accepted";
    mandate_active: "wirksam", "active";
    mandate_revoked: "beendet", "ended";
    mandate_expired: "abgelaufen", "expired";
    mandate_accept: "Annehmen", "Accept";
    mandate_end: "Beenden", "End";
    mandate_new_title: "Eine Vollmacht eintragen", "Record a mandate";
    mandate_direction: "Richtung", "Direction";
    mandate_give: "Wir bevollmächtigen", "We give a mandate to";
    mandate_hold: "Wir sind bevollmächtigt von (Widerspruchsfrist für die andere Seite)", "We hold a mandate from (the other side may object)";
    mandate_party_org: "einer Organisation im Handelsregister", "an organisation in the commercial register";
    mandate_party_person: "einer Person (Benutzername bei konto)", "a person (their konto user name)";
    mandate_username: "Benutzername", "User name";
    mandate_redelegation: "Darf weitergegeben werden (Stufen)", "May be passed on (levels)";
    mandate_evidence: "Nachweis (Aktenzeichen, Dokument)", "Evidence (reference, document)";
    mandate_parent: "Weitergabe einer erhaltenen Vollmacht", "Passing on a mandate received";
    mandate_none: "keine", "none";
    mandate_create: "Eintragen", "Record";
    mandate_created: "Die Vollmacht ist eingetragen; sie wird wirksam, sobald die andere Seite zustimmt.", "The mandate is recorded; it takes effect once the other side agrees.";
    mandate_accepted_notice: "Die Vollmacht ist angenommen.", "The mandate has been accepted.";
    mandate_revoked_notice: "Die Vollmacht ist beendet.", "The mandate has been ended.";
    org_events: "Änderungen", "Changes";
    org_role_change: "Rolle ändern", "Change role";
    org_role_set: "Die Rolle ist geändert.", "The role has been changed.";
    org_err_last_admin: "Eine Organisation mit weiteren Mitgliedern braucht eine Administration. Bestimmen Sie zuerst jemand anderen dazu.", "An organisation with other members needs an administrator. Appoint someone else first.";
    ev_role_set: "Rolle geändert", "role changed";
    org_letter_resend: "Neuen Brief anfordern (der alte Code verfällt)", "Ask for a new letter (the old code stops working)";
    org_letter_resent: "Ein neuer Brief ist unterwegs.", "A new letter is on its way.";
    org_err_letter_pending: "Ein Brief ist noch unterwegs. Einen neuen können Sie sieben Tage nach dem letzten anfordern, oder wenn der Code abgelaufen oder gesperrt ist.", "A letter is still on its way. You can ask for a new one seven days after the last, or once the code has expired or been blocked.";
    ev_letter_sent: "Neuer Brief verschickt", "new letter sent";
    org_revoke_right: "Entziehen", "Revoke";
    ev_organisation_created: "Organisation angelegt", "organisation created";
    ev_administrator_confirmed: "Administration mit dem Code aus dem Brief bestätigt", "administrator confirmed with the letter's code";
    ev_member_invited: "Mitglied eingeladen", "member invited";
    ev_member_joined: "Mitglied beigetreten", "member joined";
    ev_member_removed: "Mitglied entfernt", "member removed";
    ev_member_left: "Mitglied hat sein Konto gelöscht und ist ausgeschieden", "member deleted their account and left";
    ev_mandate_ended: "Vollmacht beendet, weil das Konto der Person gelöscht wurde", "mandate ended because the person's account was deleted";
    ev_right_granted: "Recht vergeben", "right granted";
    ev_right_revoked: "Recht entzogen", "right revoked";
    ev_mandate_offered: "Vollmacht eingetragen", "mandate recorded";
    ev_mandate_accepted: "Vollmacht angenommen", "mandate accepted";
    ev_mandate_revoked: "Vollmacht beendet", "mandate ended";
    org_event_time: "Zeit", "Time";
    org_event_who: "Wer", "Who";
    org_event_what: "Was", "What";
    org_step_up: "Mit höherem Vertrauensniveau anmelden", "Sign in at a higher level";
    org_admin_level: "Verwalten verlangt das Vertrauensniveau substanziell (ELSTER-Zertifikat oder Online-Ausweis).", "Administration needs the level substantial (ELSTER certificate or eID card).";
    org_err_level: "Dafür ist eine Anmeldung mit dem Vertrauensniveau substanziell oder hoch nötig.", "This needs a sign-in at the level substantial or high.";
    org_err_not_allowed: "Das dürfen Sie in dieser Organisation nicht.", "You may not do this in this organisation.";
    org_err_not_member: "Diese Organisation gibt es nicht, oder Sie gehören ihr nicht an.", "This organisation does not exist, or you do not belong to it.";
    org_err_not_confirmed: "Die Organisation ist noch nicht bestätigt.", "The organisation is not confirmed yet.";
    org_err_code: "Der Code ist falsch, abgelaufen oder schon verwendet.", "The code is wrong, expired or already used.";
    org_err_not_in_register: "Diesen Eintrag gibt es im Handelsregister nicht (oder nicht mehr).", "The commercial register has no such (current) entry.";
    org_err_not_representative: "Sie stehen nicht als Vertretungsberechtigte oder Vertretungsberechtigter in diesem Registereintrag.", "You are not a representative in this register entry.";
    org_err_identity: "Dafür braucht Ihr Konto einen geprüften Namen und ein Geburtsdatum (Online-Ausweis oder ELSTER-Zertifikat).", "This needs a verified name and date of birth in your account (eID card or ELSTER certificate).";
    org_err_exists: "Diese Organisation hat schon ein Konto.", "This organisation already has an account.";
    org_err_unknown_party: "Diese Organisation oder Person kennt konto nicht.", "konto does not know this organisation or person.";
    org_err_mandate_state: "Die Vollmacht ist in einem anderen Stand.", "The mandate is in another state.";
    org_err_invalid: "Die Angaben sind nicht vollständig oder nicht gültig.", "The details are incomplete or invalid.";
    consent_acting_for: "Sie handeln dabei für:", "You are acting for:";
    acting_title: "Für wen handeln Sie?", "Whom are you acting for?";
    acting_text: "Sie dürfen bei diesem Dienst auch für andere handeln. Wählen Sie, für wen Sie sich anmelden:", "At this service you may also act for others. Choose whom you are signing in for:";
    acting_legal_required: "Dieser Dienst verlangt, dass Sie als gesetzliche Vertretung einer Organisation handeln.", "This service needs you to act as the legal representative of an organisation.";
    acting_myself: "Für mich selbst", "For myself";
    acting_via: "über", "through";
    acting_legal_representative: "als gesetzliche Vertretung", "as legal representative";
    acting_continue: "Weiter", "Continue";

    error_title: "Fehler", "Error";
    error_id: "Fehlerkennung", "Error id";
    error_flow: "Die Anmeldung ist abgelaufen oder wurde in einem anderen Browser begonnen. Bitte starten Sie sie beim Dienst neu.", "The sign-in has expired or was started in another browser. Please start again at the service.";
    error_internal: "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut.", "An internal error occurred. Please try again later.";
    error_bad_request: "Die Anfrage ist ungültig.", "The request is invalid.";
    error_not_found: "Diese Seite gibt es nicht.", "This page does not exist.";
    error_step_taken: "Dieser Schritt der Anmeldung wurde schon ausgeführt, etwa in einem anderen Fenster. Bitte laden Sie die Anmeldeseite neu.", "This step of the sign-in has already been taken, perhaps in another window. Please reload the sign-in page.";
    error_foreign_browser: "Diese Anmeldung wurde in einem anderen Browser begonnen. Aus Sicherheitsgründen wurde das Ergebnis verworfen. Bitte starten Sie die Anmeldung in diesem Browser beim Dienst neu.", "This sign-in was started in another browser. For your security its result has been discarded. Please start the sign-in again at the service, in this browser.";
    error_refused_request: "Der Dienst, von dem Sie kommen, hat eine Anmeldeanfrage gesendet, die konto nicht annehmen kann. Bitte wenden Sie sich an diesen Dienst.", "The service you came from sent a sign-in request that konto cannot accept. Please contact that service.";
    error_detail: "Technischer Grund (für den Dienst)", "Technical reason (for the service)";
    error_csrf: "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu.", "The form has expired. Please reload the page.";

    logout_title: "Abmelden", "Sign out";
    logout_question: "Möchten Sie sich bei konto abmelden?", "Do you want to sign out of konto?";
    logout_yes: "Abmelden", "Sign out";
    logged_out: "Sie sind abgemeldet.", "You are signed out.";

    register_title: "Konto anlegen", "Create an account";
    email: "E-Mail-Adresse", "E-mail address";
    given_name: "Vorname(n)", "Given name(s)";
    family_name: "Familienname", "Family name";
    optional: "optional", "optional";
    password_hint: "Mindestens 8 Zeichen. Lange Sätze sind gut; häufige Passwörter werden abgelehnt.", "At least 8 characters. Long phrases are good; common passwords are refused.";
    register_submit: "Registrieren", "Register";
    register_sent: "Wir haben Ihnen eine E-Mail geschickt. Bitte öffnen Sie den Link darin, um Ihr Konto zu bestätigen.", "We have sent you an e-mail. Please open the link in it to confirm your account.";
    register_done: "Ihr Konto ist angelegt. Sie können sich jetzt anmelden.", "Your account has been created. You can sign in now.";
    register_exists: "Für diese Adresse besteht bereits ein Konto. Melden Sie sich an oder setzen Sie Ihr Passwort zurück.", "This address already has an account. Sign in or reset your password.";
    err_email: "Bitte geben Sie eine gültige E-Mail-Adresse an.", "Please enter a valid e-mail address.";
    err_password_short: "Das Passwort ist zu kurz (mindestens 8 Zeichen).", "The password is too short (at least 8 characters).";
    err_password_long: "Das Passwort ist zu lang.", "The password is too long.";
    err_password_common: "Dieses Passwort ist zu leicht zu erraten. Bitte wählen Sie ein anderes.", "This password is too easy to guess. Please choose another.";
    err_password_context: "Das Passwort darf Ihren Benutzernamen oder Ihre E-Mail-Adresse nicht enthalten.", "The password must not contain your user name or e-mail address.";
    err_link: "Der Link ist ungültig, abgelaufen oder wurde schon verwendet.", "The link is invalid, expired or already used.";
    err_registration_closed: "Die Registrierung ist geschlossen.", "Registration is closed.";

    reset_title: "Passwort zurücksetzen", "Reset your password";
    reset_submit: "Link anfordern", "Send link";
    reset_sent: "Wenn zu dieser Adresse ein Konto besteht, haben wir einen Link geschickt.", "If this address has an account, we have sent a link.";
    new_password: "Neues Passwort", "New password";
    reset_confirm_submit: "Passwort setzen", "Set password";
    reset_done: "Ihr Passwort wurde geändert. Alle Sitzungen wurden beendet.", "Your password has been changed. All sessions have been ended.";

    account_title: "Mein Konto", "My account";
    your_data: "Ihre Daten", "Your data";
    attribute: "Angabe", "Item";
    value: "Wert", "Value";
    source: "Quelle", "Source";
    level: "Vertrauensniveau", "Level of assurance";
    verified_at: "Bestätigt am", "Verified on";
    source_self_asserted: "selbst angegeben", "self-asserted";
    source_password_account: "durch E-Mail-Link bestätigt", "confirmed by e-mail link";
    source_elster: "ELSTER-Zertifikat", "ELSTER certificate";
    source_eid: "Online-Ausweis", "eID card";
    source_upstream: "anderes Nutzerkonto", "another account provider";
    edit_names: "Namen ändern (nur selbst angegebene Daten)", "Change names (self-asserted data only)";
    save: "Speichern", "Save";
    err_not_editable: "Diese Daten stammen aus einer bestätigten Quelle und können nicht geändert werden.", "These data come from a verified source and cannot be changed.";
    authenticators: "Anmeldeverfahren", "Authenticators";
    auth_password: "Passwort", "Password";
    auth_passkey: "Passkey", "Passkey";
    auth_elster: "ELSTER-Zertifikat", "ELSTER certificate";
    auth_eid: "Online-Ausweis", "eID card";
    add_passkey: "Passkey hinzufügen", "Add a passkey";
    add_elster: "ELSTER-Zertifikat hinzufügen", "Add an ELSTER certificate";
    add_eid: "Online-Ausweis hinzufügen", "Add the eID card";
    remove: "Entfernen", "Remove";
    err_last_authenticator: "Ihr Konto braucht mindestens ein Anmeldeverfahren.", "Your account needs at least one way to sign in.";
    connected_services: "Verbundene Dienste", "Connected services";
    revoke: "Zustimmung widerrufen", "Revoke consent";
    no_services: "Keine.", "None.";
    sessions: "Sitzungen", "Sessions";
    delete_account: "Konto löschen", "Delete account";
    delete_confirm: "Ich möchte mein Konto und alle Daten endgültig löschen.", "I want to delete my account and all its data for good.";
    sign_out: "Abmelden", "Sign out";
    account_deleted: "Ihr Konto und alle Daten wurden gelöscht.", "Your account and all its data have been deleted.";

    attr_given_name: "Vorname(n)", "Given name(s)";
    attr_family_name: "Familienname", "Family name";
    attr_birth_name: "Geburtsname", "Birth name";
    attr_birthdate: "Geburtsdatum", "Date of birth";
    attr_place_of_birth: "Geburtsort", "Place of birth";
    attr_academic_title: "Doktorgrad", "Academic title";
    attr_nationality: "Staatsangehörigkeit", "Nationality";
    attr_gender: "Geschlecht", "Gender";
    attr_street: "Straße", "Street";
    attr_postal_code: "Postleitzahl", "Postal code";
    attr_locality: "Ort", "Town";
    attr_country: "Land", "Country";
    attr_email: "E-Mail-Adresse", "E-mail address";
    attr_phone: "Telefon", "Telephone";
    attr_document_type: "Dokumentart", "Document type";
    attr_community_id: "Gemeindeschlüssel", "Community id";

    form_post_title: "Weiterleitung", "Redirecting";
    form_post_text: "Sie werden zum Dienst zurückgeleitet.", "You are being returned to the service.";
    continue_button: "Weiter", "Continue";
    loa_basic_title: "Vertrauensniveau „Basisregistrierung“", "Level of assurance \"basic\"";
    loa_basic_text: "Dieser acr-Wert bezeichnet konto's niedrigstes Vertrauensniveau: ein selbst registriertes Konto mit Benutzername und Passwort und selbst angegebenen Daten. Die eIDAS-Verordnung definiert darunter kein Niveau; BundID nennt es STORK-QAA-Level-1.", "This acr value names konto's lowest level of assurance: a self-registered account with user name, password and self-asserted data. eIDAS defines no level below low; BundID calls it STORK-QAA-Level-1.";
}

/// The language for a list of preferred tags (best first).
pub fn pick<'a, I: IntoIterator<Item = &'a str>>(preferred: I) -> &'static Texts {
    for tag in preferred {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "de" => return &DE,
            "en" => return &EN,
            _ => {}
        }
    }
    &DE
}

/// Language tags of an `Accept-Language` header, by descending weight.
pub fn accept_language(header: &str) -> Vec<String> {
    let mut tags: Vec<(String, f32)> = header
        .split(',')
        .take(16)
        .filter_map(|part| {
            let mut it = part.trim().split(';');
            let tag = it.next()?.trim();
            if tag.is_empty() || tag.len() > 35 {
                return None;
            }
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            Some((tag.to_owned(), q))
        })
        .collect();
    tags.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    tags.into_iter()
        .filter(|(_, q)| *q > 0.0)
        .map(|(t, _)| t)
        .collect()
}

impl Texts {
    pub fn level(&self, level: konto_core::Level) -> &'static str {
        match level {
            konto_core::Level::Basic => self.level_basic,
            konto_core::Level::Low => self.level_low,
            konto_core::Level::Substantial => self.level_substantial,
            konto_core::Level::High => self.level_high,
        }
    }

    /// An organisation's recorded change, by its action name (unknown names as they are).
    pub fn org_event<'a>(&self, action: &'a str) -> &'a str {
        match action {
            "organisation_created" => self.ev_organisation_created,
            "administrator_confirmed" => self.ev_administrator_confirmed,
            "member_invited" => self.ev_member_invited,
            "member_joined" => self.ev_member_joined,
            "member_removed" => self.ev_member_removed,
            "member_left" => self.ev_member_left,
            "mandate_ended" => self.ev_mandate_ended,
            "right_granted" => self.ev_right_granted,
            "right_revoked" => self.ev_right_revoked,
            "mandate_offered" => self.ev_mandate_offered,
            "mandate_accepted" => self.ev_mandate_accepted,
            "mandate_revoked" => self.ev_mandate_revoked,
            "letter_sent" => self.ev_letter_sent,
            "role_set" => self.ev_role_set,
            other => other,
        }
    }

    pub fn role(&self, role: konto_core::representation::Role) -> &'static str {
        match role {
            konto_core::representation::Role::Administrator => self.role_administrator,
            konto_core::representation::Role::Clerk => self.role_clerk,
        }
    }

    pub fn application_status(&self, s: konto_core::postbox::ApplicationStatus) -> &'static str {
        use konto_core::postbox::ApplicationStatus as A;
        match s {
            A::Initiated => self.status_initiated,
            A::Submitted => self.status_submitted,
            A::Received => self.status_received,
            A::Processing => self.status_processing,
            A::ActionRequired => self.status_action_required,
            A::Completed => self.status_completed,
        }
    }

    pub fn scope(&self, scope: &str) -> &'static str {
        match scope {
            "openid" => self.scope_openid,
            "profile" => self.scope_profile,
            "email" => self.scope_email,
            "address" => self.scope_address,
            "phone" => self.scope_phone,
            "offline_access" => self.scope_offline_access,
            "representation" => self.scope_representation,
            "postbox" => self.scope_postbox,
            _ => "",
        }
    }

    pub fn authenticator(&self, kind: konto_core::amr::AuthenticatorKind) -> &'static str {
        use konto_core::amr::AuthenticatorKind as K;
        match kind {
            K::Password => self.auth_password,
            K::Passkey => self.auth_passkey,
            K::Elster => self.auth_elster,
            K::Eid => self.auth_eid,
        }
    }

    pub fn source(&self, source: &konto_core::attributes::AttributeSource) -> &'static str {
        use konto_core::attributes::AttributeSource as S;
        match source {
            S::SelfAsserted => self.source_self_asserted,
            S::PasswordAccount => self.source_password_account,
            S::Elster => self.source_elster,
            S::Eid => self.source_eid,
            S::Upstream(_) => self.source_upstream,
        }
    }

    pub fn attribute(&self, name: konto_core::attributes::AttributeName) -> &'static str {
        use konto_core::attributes::AttributeName as A;
        match name {
            A::GivenName => self.attr_given_name,
            A::FamilyName => self.attr_family_name,
            A::BirthName => self.attr_birth_name,
            A::BirthDate => self.attr_birthdate,
            A::PlaceOfBirth => self.attr_place_of_birth,
            A::AcademicTitle => self.attr_academic_title,
            A::Nationality => self.attr_nationality,
            A::Gender => self.attr_gender,
            A::Street => self.attr_street,
            A::PostalCode => self.attr_postal_code,
            A::Locality => self.attr_locality,
            A::Country => self.attr_country,
            A::Email => self.attr_email,
            A::Phone => self.attr_phone,
            A::DocumentType => self.attr_document_type,
            A::CommunityId => self.attr_community_id,
        }
    }

    /// The other language's texts (for the language switch).
    pub fn other(&self) -> &'static Texts {
        if self.lang == "de" { &EN } else { &DE }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_preference() {
        assert_eq!(pick(["fr", "en-GB", "de"]).lang, "en");
        assert_eq!(pick(["de-AT"]).lang, "de");
        assert_eq!(pick(Vec::<&str>::new()).lang, "de");
        let tags = accept_language("fr;q=0.9, en-US;q=0.95, de;q=0.1, *;q=0");
        assert_eq!(tags, vec!["en-US", "fr", "de"]);
    }
}
