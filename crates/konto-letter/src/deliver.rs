//! Where rendered letters go to be printed and posted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::macros::format_description;

use crate::LetterError;

/// Takes rendered letters for printing and posting.
#[async_trait::async_trait]
pub trait LetterBox: Send + Sync {
    /// Hands over the PDF of a letter to the organisation with this id, and returns a reference
    /// to it for the organisation's records (for [`FolderLetters`], the file name).
    async fn send(&self, to_organisation_id: &str, pdf: Vec<u8>) -> Result<String, LetterError>;
}

/// Drops letters as PDF files into a folder, for development or for a print shop that collects
/// them there.
///
/// Files are named `<UTC time>-<organisation id>.pdf` and readable only by the owner: the letter
/// carries a code that makes someone an organisation's administrator.
#[derive(Debug, Clone)]
pub struct FolderLetters {
    dir: PathBuf,
}

impl FolderLetters {
    /// Letters go into `dir`, which is created (owner only) on the first letter if need be.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FolderLetters { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait::async_trait]
impl LetterBox for FolderLetters {
    async fn send(&self, to_organisation_id: &str, pdf: Vec<u8>) -> Result<String, LetterError> {
        check_organisation_id(to_organisation_id)?;
        let dir = self.dir.clone();
        let id = to_organisation_id.to_owned();
        let now = OffsetDateTime::now_utc();
        tokio::task::spawn_blocking(move || deliver(&dir, &id, now, &pdf))
            .await
            .map_err(|e| LetterError::Io(io::Error::other(e)))?
    }
}

const MAX_ID_LEN: usize = 100;
/// Letters sent in the same millisecond to the same organisation get numbered names; this many
/// at once means something is wrong.
const MAX_SAME_NAME: usize = 1000;

/// The id becomes part of a file name: nothing that could leave the folder, hide the file or
/// confuse a shell is allowed.
fn check_organisation_id(id: &str) -> Result<(), LetterError> {
    let fits = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        Ok(())
    } else {
        Err(LetterError::InvalidOrganisationId)
    }
}

fn deliver(
    dir: &Path,
    organisation_id: &str,
    now: OffsetDateTime,
    pdf: &[u8],
) -> Result<String, LetterError> {
    create_private_dir(dir)?;
    let stamp = now
        .format(format_description!(
            "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
        ))
        .map_err(io::Error::other)?;
    let (temp, mut file) = create_temp(dir)?;
    let published = file
        .write_all(pdf)
        .and_then(|()| file.sync_all())
        .map_err(LetterError::from)
        .and_then(|()| publish(dir, &temp, &stamp, organisation_id));
    drop(file);
    // after publishing, the letter has its own name and the temporary one only goes; before, the
    // temporary file is a half-written letter. Either way it has to go, and failing to remove it
    // changes nothing about the outcome, which `published` already says.
    let _removed = fs::remove_file(&temp);
    published
}

/// Gives the finished temporary file its final name. A hard link, unlike a rename, fails rather
/// than replaces when the name is taken, so no letter is ever overwritten, and the name appears
/// only once the whole letter is on disk.
fn publish(
    dir: &Path,
    temp: &Path,
    stamp: &str,
    organisation_id: &str,
) -> Result<String, LetterError> {
    for n in 1..=MAX_SAME_NAME {
        let name = if n == 1 {
            format!("{stamp}-{organisation_id}.pdf")
        } else {
            format!("{stamp}-{organisation_id}-{n}.pdf")
        };
        match fs::hard_link(temp, dir.join(&name)) {
            Ok(()) => {
                sync_dir(dir)?;
                return Ok(name);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free file name for the letter",
    )
    .into())
}

/// A new file under a random hidden name, so that whatever collects `*.pdf` from the folder never
/// sees a half-written letter.
fn create_temp(dir: &Path) -> Result<(PathBuf, File), LetterError> {
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let path = dir.join(format!(".letter-{}.tmp", hex::encode(random)));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path)?;
    Ok((path, file))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes the new name durable: without it, a crash could lose a letter that was reported sent.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn letters_are_private_and_never_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("letters").join("outbox");
        let letters = FolderLetters::new(&dir);

        let first = letters.send("org-1", b"%PDF-first".to_vec()).await.unwrap();
        let second = letters
            .send("org-1", b"%PDF-second".to_vec())
            .await
            .unwrap();

        assert_ne!(first, second);
        assert!(first.ends_with("-org-1.pdf"), "{first}");
        assert_eq!(fs::read(dir.join(&first)).unwrap(), b"%PDF-first");
        assert_eq!(fs::read(dir.join(&second)).unwrap(), b"%PDF-second");
        // no temporary files stay behind
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join(&first)), 0o600);
            assert_eq!(mode(&dir.join(&second)), 0o600);
        }
    }

    #[test]
    fn the_same_instant_gets_a_numbered_name() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_741_775_730).unwrap();
        let a = deliver(dir.path(), "org", now, b"a").unwrap();
        let b = deliver(dir.path(), "org", now, b"b").unwrap();
        assert_eq!(a, "20250312T103530.000Z-org.pdf");
        assert_eq!(b, "20250312T103530.000Z-org-2.pdf");
        assert_eq!(fs::read(dir.path().join(a)).unwrap(), b"a");
        assert_eq!(fs::read(dir.path().join(b)).unwrap(), b"b");
    }

    #[tokio::test]
    async fn ids_that_could_leave_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let letters = FolderLetters::new(dir.path());
        for id in ["", "../x", "a/b", ".hidden", "a b", "ä", &"x".repeat(101)] {
            assert!(
                matches!(
                    letters.send(id, b"%PDF-".to_vec()).await,
                    Err(LetterError::InvalidOrganisationId)
                ),
                "{id}"
            );
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
