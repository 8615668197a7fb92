//! Reading an extract file as lines and fields, keeping what validation needs: the physical
//! line number of every row, whether it is valid UTF-8, and how many fields it has.
//!
//! Files are read in blocks of whole lines (a few MiB each), so memory does not grow with the
//! file; the BLAKE3 hash of every byte is taken on the way. A UTF-8 byte order mark is
//! skipped; CR LF and LF line ends are both accepted; fields may be quoted (`"a,b"`, with
//! `""` for a quote). Blank lines are skipped but still counted, so line numbers are those an
//! editor shows.

use std::io::{self, Read};
use std::ops::Range;

/// Bytes read per block (whole lines are kept together, so blocks are a little bigger or
/// smaller).
const BLOCK: u64 = 4 << 20;

/// What is wrong with a file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFault {
    /// No bytes, or no header line.
    Empty,
    /// The header is not text.
    HeaderNotText,
}

/// Why a file could not be opened as CSV.
#[derive(Debug)]
pub enum OpenError {
    /// The file's content is not a CSV header.
    Fault(FileFault),
    /// Reading failed.
    Io(io::Error),
}

/// Reads a file block by block after its header.
pub struct LineReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    carry: Vec<u8>,
    next_number: u64,
    eof: bool,
}

/// Whole lines of a file.
pub struct Block {
    first: u64,
    bytes: Vec<u8>,
}

/// One data line of a file.
pub struct Line<'a> {
    /// 1-based physical line number (the header is line 1).
    pub number: u64,
    /// The line's bytes without its line end.
    pub raw: &'a [u8],
}

impl<R: Read> LineReader<R> {
    /// Read the header line; returns the reader positioned at the first data line.
    pub fn open(inner: R) -> Result<(Self, Vec<String>), OpenError> {
        let mut r = LineReader {
            inner,
            hasher: blake3::Hasher::new(),
            carry: Vec::new(),
            next_number: 2,
            eof: false,
        };
        let end = loop {
            if let Some(i) = memchr::memchr(b'\n', &r.carry) {
                break i;
            }
            if r.eof {
                break r.carry.len();
            }
            r.fill().map_err(OpenError::Io)?;
        };
        let rest = r.carry.split_off((end + 1).min(r.carry.len()));
        let first = std::mem::replace(&mut r.carry, rest);
        let line = &first[..end];
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Err(OpenError::Fault(FileFault::Empty));
        }
        let text =
            std::str::from_utf8(line).map_err(|_| OpenError::Fault(FileFault::HeaderNotText))?;
        let mut row = Fields::default();
        row.split(text);
        let header = (0..row.len())
            .map(|i| row.get(i).trim().to_owned())
            .collect();
        Ok((r, header))
    }

    /// Read more bytes onto `carry`; sets `eof` at the end.
    fn fill(&mut self) -> io::Result<()> {
        let old = self.carry.len();
        let n = (&mut self.inner).take(BLOCK).read_to_end(&mut self.carry)?;
        self.hasher.update(&self.carry[old..]);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next block of whole lines, or `None` at the end of the file.
    pub fn next_block(&mut self) -> io::Result<Option<Block>> {
        loop {
            let cut = if self.eof {
                if self.carry.is_empty() {
                    return Ok(None);
                }
                Some(self.carry.len())
            } else if self.carry.len() as u64 >= BLOCK {
                memchr::memrchr(b'\n', &self.carry).map(|i| i + 1)
            } else {
                None
            };
            if let Some(cut) = cut {
                let rest = self.carry.split_off(cut);
                let bytes = std::mem::replace(&mut self.carry, rest);
                let first = self.next_number;
                self.next_number += memchr::memchr_iter(b'\n', &bytes).count() as u64;
                return Ok(Some(Block { first, bytes }));
            }
            self.fill()?;
        }
    }

    /// The BLAKE3 hash of every byte of the file (call after the last block).
    pub fn digest(&self) -> blake3::Hash {
        self.hasher.finalize()
    }
}

/// Every data line of a file in turn. A file that is not CSV (empty, or a header that is not
/// text) has none: the opt-out scans use this and leave rejecting such files to ingest.
pub fn for_each_line(file: impl Read, mut f: impl FnMut(Line<'_>)) -> io::Result<()> {
    let mut reader = match LineReader::open(file) {
        Ok((reader, _header)) => reader,
        Err(OpenError::Fault(_)) => return Ok(()),
        Err(OpenError::Io(e)) => return Err(e),
    };
    while let Some(block) = reader.next_block()? {
        block.lines().for_each(&mut f);
    }
    Ok(())
}

impl Block {
    /// Its non-blank lines, without line ends.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        let mut number = self.first;
        self.bytes
            .split_inclusive(|&b| b == b'\n')
            .filter_map(move |l| {
                let n = number;
                number += 1;
                let l = l.strip_suffix(b"\n").unwrap_or(l);
                let raw = l.strip_suffix(b"\r").unwrap_or(l);
                (!raw.is_empty()).then_some(Line { number: n, raw })
            })
    }
}

/// The fields of one line, unquoted into a buffer that is reused from line to line.
#[derive(Default)]
pub struct Fields {
    text: String,
    spans: Vec<Range<usize>>,
}

impl Fields {
    /// Split a line into fields. Quoted fields lose their quotes; `""` inside becomes `"`.
    pub fn split(&mut self, text: &str) {
        self.text.clear();
        self.spans.clear();
        let line = text.as_bytes();
        if memchr::memchr(b'"', line).is_none() {
            self.text.push_str(text);
            let mut start = 0;
            for i in memchr::memchr_iter(b',', line) {
                self.spans.push(start..i);
                start = i + 1;
            }
            self.spans.push(start..line.len());
            return;
        }
        let mut in_quotes = false;
        let mut start = 0;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (in_quotes, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    self.text.push('"');
                    chars.next();
                }
                (true, '"') => in_quotes = false,
                (false, '"') if self.text.len() == start => in_quotes = true,
                (false, ',') => {
                    self.spans.push(start..self.text.len());
                    start = self.text.len();
                }
                _ => self.text.push(c),
            }
        }
        self.spans.push(start..self.text.len());
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no fields (before the first line is split).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Field `i`.
    pub fn get(&self, i: usize) -> &str {
        &self.text[self.spans[i].clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Numbered = Vec<(u64, Vec<u8>)>;

    fn read_all(file: &[u8]) -> Result<(Vec<String>, Numbered), FileFault> {
        let (mut r, header) = match LineReader::open(file) {
            Ok(x) => x,
            Err(OpenError::Fault(f)) => return Err(f),
            Err(OpenError::Io(e)) => panic!("{e}"),
        };
        let mut lines = Vec::new();
        while let Some(b) = r.next_block().unwrap() {
            lines.extend(b.lines().map(|l| (l.number, l.raw.to_vec())));
        }
        assert_eq!(r.digest(), blake3::hash(file), "the hash covers every byte");
        Ok((header, lines))
    }

    #[test]
    fn bom_crlf_and_blank_lines_keep_true_line_numbers() {
        let (header, lines) = read_all(b"\xEF\xBB\xBFa,b\r\n1,2\r\n\r\n3,4\r\n").unwrap();
        assert_eq!(header, vec!["a", "b"]);
        assert_eq!(lines, vec![(2, b"1,2".to_vec()), (4, b"3,4".to_vec())]);
        let (_, lines) = read_all(b"a,b\n1,2\n3,4").unwrap();
        assert_eq!(
            lines,
            vec![(2, b"1,2".to_vec()), (3, b"3,4".to_vec())],
            "no final line end"
        );
    }

    #[test]
    fn lines_across_block_boundaries_are_whole_and_numbered() {
        let mut file = b"a,b\n".to_vec();
        let n = 3 * BLOCK as usize / 10;
        for i in 0..n {
            file.extend_from_slice(format!("{i},x\n").as_bytes());
            if i % 1000 == 0 {
                file.push(b'\n');
            }
        }
        let (_, lines) = read_all(&file).unwrap();
        assert_eq!(lines.len(), n);
        let mut number = 2;
        for (i, (no, raw)) in lines.iter().enumerate() {
            assert_eq!(raw, format!("{i},x").as_bytes());
            assert_eq!(*no, number);
            number += if i % 1000 == 0 { 2 } else { 1 };
        }
    }

    #[test]
    fn quoted_fields() {
        let mut f = Fields::default();
        f.split(r#"a,"b,c","say ""hi""",d"#);
        let got: Vec<&str> = (0..f.len()).map(|i| f.get(i)).collect();
        assert_eq!(got, vec!["a", "b,c", "say \"hi\"", "d"]);
        f.split("a,,b");
        assert_eq!(f.len(), 3);
        assert_eq!(f.get(1), "");
        f.split("é,\"ü\"");
        assert_eq!((f.get(0), f.get(1)), ("é", "ü"));
    }

    #[test]
    fn empty_and_binary_files_are_faults() {
        assert_eq!(read_all(b"").err(), Some(FileFault::Empty));
        assert_eq!(read_all(b"\n1,2").err(), Some(FileFault::Empty));
        assert_eq!(
            read_all(b"\xff\xfe,\x00\n").err(),
            Some(FileFault::HeaderNotText)
        );
    }
}
