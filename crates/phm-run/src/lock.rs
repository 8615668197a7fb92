//! One run at a time per root: an OS file lock (`flock`), so a killed run releases it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    _files: Vec<File>,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another `phm run` (process {holder}) is writing `{root}`\nhint: wait for it to finish, or pass `--wait` to queue behind it"
    )]
    Held {
        /// The root.
        root: PathBuf,
        /// The holder's process id, as it wrote it.
        holder: String,
    },
    /// The lock file cannot be used.
    #[error("cannot lock `{path}`: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl RunLock {
    /// Lock every given lock file, in order; with `wait`, block until each is free.
    pub fn acquire(lock_files: &[PathBuf], wait: bool) -> Result<Self, LockError> {
        let mut files = Vec::new();
        for path in lock_files {
            files.push(lock_one(path, wait)?);
        }
        Ok(RunLock { _files: files })
    }
}

fn lock_one(path: &Path, wait: bool) -> Result<File, LockError> {
    let io = |source| LockError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    if wait {
        file.lock().map_err(io)?;
    } else {
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    root: path.parent().unwrap_or(Path::new(".")).to_owned(),
                    holder: if holder.is_empty() {
                        "unknown".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(".lock");
        let first = RunLock::acquire(std::slice::from_ref(&path), false).unwrap();
        let err = RunLock::acquire(std::slice::from_ref(&path), false).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&std::process::id().to_string()) && msg.contains("--wait"),
            "{msg}"
        );
        drop(first);
        RunLock::acquire(&[path], false).unwrap();
    }
}
