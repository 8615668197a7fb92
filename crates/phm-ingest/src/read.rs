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
    /// The file's BLAKE3 hash so far (`None` when the caller does not need it).
    hasher: Option<blake3::Hasher>,
    carry: Vec<u8>,
    /// A finished block's buffer, to read the next block into (see [`LineReader::recycle`]).
    spare: Vec<u8>,
    next_number: u64,
    eof: bool,
}

/// Whole lines of a file.
pub struct Block {
    first: u64,
    content: Content,
    /// Whether any line of the block has a quote (then fields need the full reader).
    quoted: bool,
}

/// A block's bytes, as text when they are all valid UTF-8 (checked once for the block).
enum Content {
    Text(String),
    Bytes(Vec<u8>),
}

/// One data line of a file.
pub struct Line<'a> {
    /// 1-based physical line number (the header is line 1).
    pub number: u64,
    /// The line's bytes without its line end.
    pub raw: &'a [u8],
    /// The line as text, when its whole block is valid UTF-8.
    pub text: Option<&'a str>,
    /// Whether the line's block has no quote, so its fields split at every comma.
    pub unquoted: bool,
}

impl<R: Read> LineReader<R> {
    /// Read the header line; returns the reader positioned at the first data line.
    pub fn open(inner: R) -> Result<(Self, Vec<String>), OpenError> {
        Self::start(inner, Some(blake3::Hasher::new()))
    }

    /// A reader that does not hash the file, or `None` for a file that is not CSV.
    fn unhashed(inner: R) -> io::Result<Option<Self>> {
        match Self::start(inner, None) {
            Ok((reader, _header)) => Ok(Some(reader)),
            Err(OpenError::Fault(_)) => Ok(None),
            Err(OpenError::Io(e)) => Err(e),
        }
    }

    fn start(inner: R, hasher: Option<blake3::Hasher>) -> Result<(Self, Vec<String>), OpenError> {
        let mut r = LineReader {
            inner,
            hasher,
            carry: Vec::new(),
            spare: Vec::new(),
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
        // Room for a whole read, so the buffer is not regrown (and copied) while reading.
        self.carry.reserve(BLOCK as usize + 64);
        let n = (&mut self.inner).take(BLOCK).read_to_end(&mut self.carry)?;
        if let Some(h) = &mut self.hasher {
            h.update(&self.carry[old..]);
        }
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
                // The partial line after the cut starts the next buffer (a recycled one when
                // the caller gave one back).
                let mut rest = std::mem::take(&mut self.spare);
                rest.clear();
                rest.extend_from_slice(&self.carry[cut..]);
                self.carry.truncate(cut);
                let bytes = std::mem::replace(&mut self.carry, rest);
                let first = self.next_number;
                self.next_number += memchr::memchr_iter(b'\n', &bytes).count() as u64;
                return Ok(Some(Block::new(first, bytes)));
            }
            self.fill()?;
        }
    }

    /// Give back a block that is done with, so its buffer is used again.
    pub fn recycle(&mut self, block: Block) {
        self.spare = match block.content {
            Content::Text(t) => t.into_bytes(),
            Content::Bytes(b) => b,
        };
    }

    /// The BLAKE3 hash of every byte of the file (call after the last block).
    pub fn digest(&self) -> blake3::Hash {
        self.hasher
            .as_ref()
            .expect("readers opened with `open` hash the file")
            .finalize()
    }
}

/// Every data line of a file in turn. A file that is not CSV (empty, or a header that is not
/// text) has none: the opt-out scans use this and leave rejecting such files to ingest.
pub fn for_each_line(file: impl Read, mut f: impl FnMut(Line<'_>)) -> io::Result<()> {
    let Some(mut reader) = LineReader::unhashed(file)? else {
        return Ok(());
    };
    while let Some(block) = reader.next_block()? {
        block.lines().for_each(&mut f);
        reader.recycle(block);
    }
    Ok(())
}

/// Every data line of a file that contains one of `needles` (and every line of a block that
/// has quotes, where a field's text may differ from its bytes), found by searching each
/// block for the needles rather than reading it line by line. Like [`for_each_line`], a
/// file that is not CSV has none.
pub fn for_each_line_containing(
    file: impl Read,
    needles: &[&[u8]],
    mut f: impl FnMut(Line<'_>),
) -> io::Result<()> {
    let finders: Vec<memchr::memmem::Finder<'_>> = needles
        .iter()
        .filter(|n| !n.is_empty())
        .map(memchr::memmem::Finder::new)
        .collect();
    let Some(mut reader) = LineReader::unhashed(file)? else {
        return Ok(());
    };
    let mut starts = Vec::new();
    while let Some(block) = reader.next_block()? {
        if block.quoted {
            block.lines().for_each(&mut f);
            reader.recycle(block);
            continue;
        }
        let bytes = block.bytes();
        starts.clear();
        starts.extend(finders.iter().flat_map(|finder| {
            finder
                .find_iter(bytes)
                .map(|at| memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1))
        }));
        starts.sort_unstable();
        starts.dedup();
        // Line numbers counted from one found line to the next, so the block is read once.
        let (mut counted_to, mut number) = (0, block.first);
        for &from in &starts {
            number += memchr::memchr_iter(b'\n', &bytes[counted_to..from]).count() as u64;
            counted_to = from;
            let end = memchr::memchr(b'\n', &bytes[from..]).map_or(bytes.len(), |i| from + i);
            if let Some(line) = block.line(from, end, number) {
                f(line);
            }
        }
        reader.recycle(block);
    }
    Ok(())
}

impl Block {
    fn new(first: u64, bytes: Vec<u8>) -> Self {
        let quoted = memchr::memchr(b'"', &bytes).is_some();
        let content = match String::from_utf8(bytes) {
            Ok(text) => Content::Text(text),
            Err(e) => Content::Bytes(e.into_bytes()),
        };
        Block {
            first,
            content,
            quoted,
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.content {
            Content::Text(t) => t.as_bytes(),
            Content::Bytes(b) => b,
        }
    }

    /// The line from byte `from` to its line end at `end`, numbered `number`; `None` if blank.
    fn line(&self, from: usize, end: usize, number: u64) -> Option<Line<'_>> {
        let bytes = self.bytes();
        let to = if end > from && bytes[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        (to > from).then(|| Line {
            number,
            raw: &bytes[from..to],
            // Line ends are ASCII, so they cut valid text at character boundaries.
            text: match &self.content {
                Content::Text(t) => Some(&t[from..to]),
                Content::Bytes(_) => None,
            },
            unquoted: !self.quoted,
        })
    }

    /// Its non-blank lines, without line ends.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        let bytes = self.bytes();
        let mut number = self.first;
        let mut start = 0;
        memchr::memchr_iter(b'\n', bytes)
            .chain(std::iter::once(bytes.len()))
            .filter_map(move |end| {
                let (from, n) = (start, number);
                start = end + 1;
                number += 1;
                self.line(from, end, n)
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
    /// Split a line with no quote at every comma.
    pub fn split_unquoted(&mut self, text: &str) {
        self.text.clear();
        self.spans.clear();
        self.text.push_str(text);
        let mut start = 0;
        for_each_comma(text.as_bytes(), |i| {
            self.spans.push(start..i);
            start = i + 1;
        });
        self.spans.push(start..text.len());
    }

    /// Split a line into fields. Quoted fields lose their quotes; `""` inside becomes `"`.
    pub fn split(&mut self, text: &str) {
        if memchr::memchr(b'"', text.as_bytes()).is_none() {
            self.split_unquoted(text);
            return;
        }
        self.text.clear();
        self.spans.clear();
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

/// Calls `f` with the position of every comma, eight bytes at a time (lines are short, so
/// a SIMD search's setup would cost more than it saves).
fn for_each_comma(line: &[u8], mut f: impl FnMut(usize)) {
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    const COMMAS: u64 = u64::from_ne_bytes([b','; 8]);
    let mut words = line.chunks_exact(8);
    let mut base = 0;
    for word in words.by_ref() {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes")) ^ COMMAS;
        // The top bit of each byte that is zero in `x` (a comma), exactly: no carries
        // cross bytes because each byte's low seven bits are added to 0x7f at most.
        let mut found = !(((x & LOW7).wrapping_add(LOW7)) | x) & !LOW7;
        while found != 0 {
            f(base + found.trailing_zeros() as usize / 8);
            found &= found - 1;
        }
        base += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b',' {
            f(base + i);
        }
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
    fn lines_containing_needles_match_a_line_by_line_search() {
        let mut file = b"a,b\r\n".to_vec();
        let n = 3 * BLOCK as usize / 12;
        for i in 0..n {
            let code = match i % 97 {
                0 => "827241000000103",
                5 => "x827261000000102y",
                _ => "271649006",
            };
            file.extend_from_slice(format!("{i},{code}\r\n").as_bytes());
            if i % 1000 == 0 {
                file.extend_from_slice(b"\r\n");
            }
        }
        let needles: [&[u8]; 2] = [b"827241000000103", b"827261000000102"];
        let mut found = Vec::new();
        for_each_line_containing(file.as_slice(), &needles, |l| {
            found.push((l.number, l.raw.to_vec()));
        })
        .unwrap();
        let (_, all) = read_all(&file).unwrap();
        let expected: Vec<_> = all
            .into_iter()
            .filter(|(_, raw)| {
                needles
                    .iter()
                    .any(|n| raw.windows(n.len()).any(|w| w == *n))
            })
            .collect();
        assert!(expected.len() > 100);
        assert_eq!(found, expected);
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
    fn commas_found_exactly_at_every_offset() {
        // Commas, and bytes one either side of a comma's value, at every position across
        // word boundaries.
        for len in 0..40 {
            for at in 0..len {
                for other in [b'+', b'-', b'a', 0xac, 0x2c] {
                    let mut line = vec![b'x'; len];
                    line[at] = other;
                    if at + 3 < len {
                        line[at + 3] = b',';
                    }
                    let mut found = Vec::new();
                    for_each_comma(&line, |i| found.push(i));
                    let expected: Vec<usize> = (0..len).filter(|&i| line[i] == b',').collect();
                    assert_eq!(found, expected, "{line:?}");
                }
            }
        }
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
