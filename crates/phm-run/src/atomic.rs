//! Atomic writes, the only way phm writes a file or a folder of a run.
//!
//! - A file is written under a temporary name beside its destination, made durable (fsync),
//!   renamed into place, and its folder made durable: [`AtomicFile`], [`write_file`].
//! - A folder is built as `.<name>.partial` beside its destination and renamed into place when
//!   complete; a folder it replaces is swapped out in one step where the system allows
//!   (`renameat2` with `RENAME_EXCHANGE` on Linux), so a reader sees the old folder or the new
//!   one, never neither: [`PartialDir`].
//!
//! [`Privacy::Private`] is for the identifiable zone: folders are created 0700 and files 0600
//! whatever the umask, and [`check_private_root`] refuses a root that group or others can read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Who may read what is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// The pseudonymised zone: the process's umask decides (usually 0755 / 0644).
    Shared,
    /// The identifiable zone and keys: folders 0700, files 0600, whatever the umask.
    Private,
}

impl Privacy {
    fn dir_mode(self) -> u32 {
        match self {
            Privacy::Shared => 0o777,
            Privacy::Private => 0o700,
        }
    }

    fn file_mode(self) -> u32 {
        match self {
            Privacy::Shared => 0o666,
            Privacy::Private => 0o600,
        }
    }
}

/// Create a folder and its missing parents with the privacy's mode (an existing private
/// folder is narrowed to 0700).
pub fn create_dir_all(path: &Path, privacy: Privacy) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(privacy.dir_mode())
        .create(path)?;
    if privacy == Privacy::Private {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Make a folder's entries (a rename, a new file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn hidden_sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    parent(path).join(format!(".{name}.{suffix}"))
}

/// A file being written under a temporary name; it appears at its destination only on
/// [`AtomicFile::commit`]. Dropped without a commit, the temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Start writing `dest` (its folder is created with the privacy's mode).
    pub fn create(dest: &Path, privacy: Privacy) -> io::Result<Self> {
        create_dir_all(parent(dest), privacy)?;
        let tmp = hidden_sibling(dest, "tmp");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(privacy.file_mode())
            .open(&tmp)?;
        if privacy == Privacy::Private {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        Ok(AtomicFile {
            tmp,
            dest: dest.to_owned(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary path being written (for error messages).
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Flush, fsync, rename into place and fsync the folder.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().expect("a file until committed");
        let file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.dest)?;
        sync_dir(parent(&self.dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("open").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("open").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Write a whole file atomically.
pub fn write_file(dest: &Path, bytes: &[u8], privacy: Privacy) -> io::Result<()> {
    let mut f = AtomicFile::create(dest, privacy)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Make an earlier run's finished file appear at `dest` too (a re-run reusing it): a hard
/// link, which costs nothing and is safe because phm never writes into a finished file (every
/// write makes a new file and renames it), or, where the two are on different file systems, an
/// atomic copy. A private file must be private (0600) to be linked; the copy is written with
/// the privacy's mode.
pub fn link_file(src: &Path, dest: &Path, privacy: Privacy) -> io::Result<()> {
    create_dir_all(parent(dest), privacy)?;
    let private_enough =
        privacy == Privacy::Shared || !others_may_read(fs::metadata(src)?.permissions().mode());
    if private_enough && fs::hard_link(src, dest).is_ok() {
        return sync_dir(parent(dest));
    }
    let mut out = AtomicFile::create(dest, privacy)?;
    io::copy(&mut File::open(src)?, &mut out)?;
    out.commit()
}

/// Whether a mode gives the group or others any permission.
fn others_may_read(mode: u32) -> bool {
    mode & 0o077 != 0
}

/// A folder built as `.<name>.partial` beside its destination and renamed into place by
/// [`PartialDir::commit`]. A stale partial folder of an earlier, interrupted attempt is
/// removed when a new one starts. Dropped without a commit, the partial folder is removed.
#[derive(Debug)]
pub struct PartialDir {
    partial: PathBuf,
    dest: PathBuf,
    privacy: Privacy,
    done: bool,
}

impl PartialDir {
    /// Start building `dest`.
    pub fn create(dest: &Path, privacy: Privacy) -> io::Result<Self> {
        let partial = hidden_sibling(dest, "partial");
        if partial.exists() {
            fs::remove_dir_all(&partial)?;
        }
        create_dir_all(&partial, privacy)?;
        Ok(PartialDir {
            partial,
            dest: dest.to_owned(),
            privacy,
            done: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// The destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Make the folder's contents durable and rename it into place, replacing an existing
    /// destination in one step.
    pub fn commit(mut self) -> io::Result<()> {
        sync_tree(&self.partial)?;
        if self.privacy == Privacy::Private {
            fs::set_permissions(&self.partial, fs::Permissions::from_mode(0o700))?;
        }
        replace_dir(&self.partial, &self.dest)?;
        self.done = true;
        sync_dir(parent(&self.dest))
    }
}

impl Drop for PartialDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.partial);
        }
    }
}

/// Remove every `.<name>.partial` folder and `.<name>.tmp` file directly under `dir`: what
/// interrupted attempts left. Call it only while holding the lock that keeps writers out.
pub fn remove_stale(dir: &Path) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            continue;
        }
        let suffix = Path::new(&name).extension().and_then(|e| e.to_str());
        if suffix == Some("partial") && entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else if suffix == Some("tmp") {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// fsync every file and folder under `dir`.
fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&path)?;
        } else if entry.file_type()?.is_file() {
            File::open(&path)?.sync_all()?;
        }
    }
    sync_dir(dir)
}

/// Move `from` to `to`, replacing a folder at `to` so that `to` always names a whole folder.
fn replace_dir(from: &Path, to: &Path) -> io::Result<()> {
    if fs::symlink_metadata(to).is_err() {
        return fs::rename(from, to);
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        renameat_with(CWD, from, CWD, to, RenameFlags::EXCHANGE)?;
        // `from` now holds the old folder.
        fs::remove_dir_all(from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let old = hidden_sibling(to, "old");
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
        fs::rename(to, &old)?;
        fs::rename(from, to)?;
        fs::remove_dir_all(&old)
    }
}

/// Point the symbolic link `link` at `target` (a name relative to the link's folder),
/// replacing it in one step.
pub fn replace_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = hidden_sibling(link, "tmp");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link)?;
    sync_dir(parent(link))
}

/// Why a folder is not private enough for the identifiable zone.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// Group or others may read or enter it.
    #[error(
        "`{path}` can be read by others (mode {mode:o}); the identifiable zone must be private to its owner\nhint: `chmod 700 {path}`"
    )]
    Readable {
        /// The folder.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// It cannot be inspected or created.
    #[error("cannot use `{path}`: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// Refuse a root that group or others can read, write or enter; create it 0700 when it does
/// not exist yet.
pub fn check_private_root(path: &Path) -> Result<(), PrivacyError> {
    let io = |source| PrivacyError::Io {
        path: path.to_owned(),
        source,
    };
    match fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(PrivacyError::Readable {
                    path: path.to_owned(),
                    mode,
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_dir_all(path, Privacy::Private).map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_atomic_file_appears_only_on_commit_and_a_dropped_one_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("a/b.txt");
        let mut f = AtomicFile::create(&dest, Privacy::Shared).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!dest.exists());
        f.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"hello");
        let mut g = AtomicFile::create(&dest, Privacy::Shared).unwrap();
        g.write_all(b"other").unwrap();
        drop(g);
        assert_eq!(fs::read(&dest).unwrap(), b"hello");
        let names: Vec<_> = fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_linked_file_shares_the_earlier_one_and_a_rewrite_of_either_leaves_the_other() {
        use std::os::unix::fs::MetadataExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let earlier = tmp.path().join("run1/q/x.parquet");
        write_file(&earlier, b"rows", Privacy::Private).unwrap();
        let dest = tmp.path().join("run2/q/x.parquet");
        link_file(&earlier, &dest, Privacy::Private).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"rows");
        assert_eq!(
            fs::metadata(&dest).unwrap().ino(),
            fs::metadata(&earlier).unwrap().ino()
        );
        assert_eq!(mode(&dest), 0o600);
        assert_eq!(mode(dest.parent().unwrap()), 0o700);
        // phm's writes make new files: rewriting the new run's leaves the earlier run's alone.
        write_file(&dest, b"new", Privacy::Private).unwrap();
        assert_eq!(fs::read(&earlier).unwrap(), b"rows");
        // A private file others could read is copied, not linked, and the copy is private.
        let loose = tmp.path().join("loose.parquet");
        fs::write(&loose, b"loose").unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();
        let copy = tmp.path().join("run3/q/loose.parquet");
        link_file(&loose, &copy, Privacy::Private).unwrap();
        assert_ne!(
            fs::metadata(&copy).unwrap().ino(),
            fs::metadata(&loose).unwrap().ino()
        );
        assert_eq!(mode(&copy), 0o600);
        assert_eq!(fs::read(&copy).unwrap(), b"loose");
    }

    #[test]
    fn private_files_and_folders_are_owner_only_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("zone/q/x.parquet");
        write_file(&dest, b"x", Privacy::Private).unwrap();
        assert_eq!(mode(&dest), 0o600);
        assert_eq!(mode(dest.parent().unwrap()), 0o700);
        assert_eq!(mode(&tmp.path().join("zone")), 0o700);
    }

    #[test]
    fn a_partial_folder_replaces_its_destination_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("linked");
        fs::create_dir_all(&dest).unwrap();
        fs::write(dest.join("old.parquet"), b"old").unwrap();
        let p = PartialDir::create(&dest, Privacy::Shared).unwrap();
        fs::write(p.path().join("new.parquet"), b"new").unwrap();
        assert!(dest.join("old.parquet").exists());
        p.commit().unwrap();
        assert!(!dest.join("old.parquet").exists());
        assert_eq!(fs::read(dest.join("new.parquet")).unwrap(), b"new");
        let left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("linked")]);
        let dropped = PartialDir::create(&dest, Privacy::Shared).unwrap();
        let partial = dropped.path().to_owned();
        drop(dropped);
        assert!(!partial.exists());
    }

    #[test]
    fn a_readable_root_is_refused_with_a_chmod_hint() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("id");
        check_private_root(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_private_root(&root).unwrap_err().to_string();
        assert!(err.contains("chmod 700"), "{err}");
    }

    #[test]
    fn a_symlink_is_replaced_in_one_step() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("latest");
        replace_symlink(Path::new("a"), &link).unwrap();
        replace_symlink(Path::new("b"), &link).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("b"));
    }
}
