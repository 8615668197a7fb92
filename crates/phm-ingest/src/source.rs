//! Opening an extract file: plain CSV (`<ODS>.csv`) or gzip-compressed CSV (`<ODS>.csv.gz`, as
//! large extracts often arrive, at a fifth of the size), decompressed as it is read so a file
//! is never unpacked on disk.
//!
//! Either way the file's BLAKE3 hash is of its bytes as received (a `.csv.gz`'s compressed
//! bytes): what `b3sum` prints for the file, and what the reuse key hashes. A gzip file may
//! hold several members (as `cat a.gz b.gz` makes); they are read as one. Damaged or cut-short
//! gzip data is an error of kind [`io::ErrorKind::InvalidData`], never a shorter file.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// The name ending of a gzip-compressed extract.
pub const GZIP_SUFFIX: &str = ".csv.gz";

/// The submitter an extract file's name gives (`<ODS>.csv` or `<ODS>.csv.gz`), if it is one.
pub fn submitter(name: &str) -> Option<&str> {
    name.strip_suffix(GZIP_SUFFIX)
        .or_else(|| name.strip_suffix(".csv"))
        .filter(|stem| !stem.is_empty())
}

/// An extract file open for reading its CSV text.
pub struct Source {
    kind: Kind,
}

enum Kind {
    Plain(Hashed),
    Gzip(Box<MultiGzDecoder<BufReader<Hashed>>>),
}

impl Source {
    /// Open `path`, hashing its bytes as they are read (see [`Source::digest`]).
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::with_hasher(path, Some(blake3::Hasher::new()))
    }

    /// Open `path` without hashing it.
    pub fn open_unhashed(path: &Path) -> io::Result<Self> {
        Self::with_hasher(path, None)
    }

    fn with_hasher(path: &Path, hasher: Option<blake3::Hasher>) -> io::Result<Self> {
        let file = Hashed {
            inner: File::open(path)?,
            hasher: hasher.map(Box::new),
        };
        let gzip = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(GZIP_SUFFIX));
        let kind = if gzip {
            let buffered = BufReader::with_capacity(256 << 10, file);
            Kind::Gzip(Box::new(MultiGzDecoder::new(buffered)))
        } else {
            Kind::Plain(file)
        };
        Ok(Source { kind })
    }

    /// The BLAKE3 hash of every byte of the file as received (call after reading to the end;
    /// `None` when opened unhashed).
    pub fn digest(&self) -> Option<blake3::Hash> {
        let file = match &self.kind {
            Kind::Plain(file) => file,
            Kind::Gzip(decoder) => decoder.get_ref().get_ref(),
        };
        file.hasher.as_ref().map(|h| h.finalize())
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Plain(file) => file.read(buf),
            Kind::Gzip(decoder) => decoder.read(buf).map_err(|e| match e.kind() {
                io::ErrorKind::Interrupted => e,
                _ => io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("its gzip data is damaged or cut short ({e})"),
                ),
            }),
        }
    }
}

/// A file whose bytes are hashed as they are read.
struct Hashed {
    inner: File,
    hasher: Option<Box<blake3::Hasher>>,
}

impl Read for Hashed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn read(path: &Path) -> (io::Result<Vec<u8>>, Option<blake3::Hash>) {
        let mut source = Source::open(path).unwrap();
        let mut out = Vec::new();
        let got = source.read_to_end(&mut out).map(|_| out);
        (got, source.digest())
    }

    #[test]
    fn names_give_the_submitter_with_or_without_gzip() {
        assert_eq!(submitter("A81001.csv"), Some("A81001"));
        assert_eq!(submitter("A81001.csv.gz"), Some("A81001"));
        assert_eq!(submitter(".csv.gz"), None);
        assert_eq!(submitter("A81001.gz"), None);
        assert_eq!(submitter("A81001.csv.zip"), None);
    }

    #[test]
    fn plain_and_gzip_files_read_the_same_text_and_hash_the_bytes_received() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"a,b\n1,2\n3,4\n".repeat(5000);
        let (plain, packed) = (dir.path().join("X.csv"), dir.path().join("X.csv.gz"));
        std::fs::write(&plain, &text).unwrap();
        // Two members, as `cat` of two gzip files makes.
        let members = [gzip(&text[..7]), gzip(&text[7..])].concat();
        std::fs::write(&packed, &members).unwrap();
        let (got, digest) = read(&plain);
        assert_eq!(got.unwrap(), text);
        assert_eq!(digest, Some(blake3::hash(&text)));
        let (got, digest) = read(&packed);
        assert_eq!(got.unwrap(), text, "every member is read");
        assert_eq!(digest, Some(blake3::hash(&members)), "the compressed bytes");
    }

    #[test]
    fn damaged_or_cut_short_gzip_is_an_error_not_a_shorter_file() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"a,b\n1,2\n3,4\n".repeat(5000);
        let whole = gzip(&text);
        let path = dir.path().join("X.csv.gz");
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        let err = read(&path).0.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let mut damaged = whole.clone();
        let middle = damaged.len() / 2;
        damaged[middle..middle + 8].copy_from_slice(b"\xff\x00\xff\x00\xff\x00\xff\x00");
        std::fs::write(&path, &damaged).unwrap();
        let err = read(&path).0.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        std::fs::write(&path, &text).unwrap();
        let err = read(&path).0.unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::InvalidData,
            "plain text named .gz: {err}"
        );
    }
}
