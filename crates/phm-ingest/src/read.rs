//! Reading an extract file as records and fields, keeping what validation needs: the physical
//! line number each record starts on, whether it is valid UTF-8, and how many fields it has.
//!
//! Files are read in blocks of whole records (a few MiB each), so memory does not grow with
//! the file (the file's BLAKE3 hash is taken below this reader, by [`crate::source`]). A UTF-8 byte order mark is
//! skipped; CR LF and LF line ends are both accepted. Blank lines are skipped but still
//! counted, so line numbers are those an editor shows.
//!
//! Quoting follows RFC 4180: a field may be quoted (`"a,b"`, with `""` for a quote), and a
//! quoted field may hold line ends (LF or CR LF), so one record can span several physical
//! lines. A record is reported at the line it starts on, and the next record's number counts
//! the line ends inside it. A quote opens a quoted field only as the field's first byte;
//! anywhere else it is an ordinary character, as is text after a closing quote (`"ab"c` is
//! `abc`). A quoted field that is never closed (by the end of the file, or within
//! [`MAX_RECORD`] bytes) makes its record an open one ([`Line::open_quote`]): the record is its
//! first physical line only, and reading goes on with the next line, so one stray quote
//! cannot swallow the rest of a file.
//!
//! These are the rules of `csv-core` (the `csv` crate's parser). It is not used to read here:
//! it never reports a quote left open (at the end of the input it ends the record, as it
//! "prefers a parse over no parse"), it copies every byte of every field to find where a
//! record ends, and blocks without quotes (nearly all) are split at line ends and commas
//! found by `memchr` and eight bytes at a time, which a byte-at-a-time parser cannot match.
//! Instead a unit test holds this reader's records and fields equal to `csv-core`'s on random
//! input.

use std::io::{self, Read};
use std::ops::Range;

/// Bytes read per block (whole records are kept together, so blocks are a little bigger or
/// smaller).
const BLOCK: usize = 4 << 20;

/// The longest record read as one: a quoted field still open this many bytes after its record
/// started is taken as never closed.
pub const MAX_RECORD: usize = 4 << 20;

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
    carry: Vec<u8>,
    /// A finished block's buffer, to read the next block into (see [`LineReader::recycle`]).
    spare: Vec<u8>,
    next_number: u64,
    eof: bool,
    /// Bytes read at a time ([`BLOCK`]; smaller in tests).
    block: usize,
    /// [`MAX_RECORD`] (smaller in tests).
    max_record: usize,
}

/// Whole records of a file.
pub struct Block {
    first: u64,
    content: Content,
    /// Whether the block has a quote: then its records are found by following quotes, and
    /// their fields need the full splitter.
    quoted: bool,
    /// [`MAX_RECORD`] (smaller in tests).
    max_record: usize,
}

/// A block's bytes, as text when they are all valid UTF-8 (checked once for the block).
enum Content {
    Text(String),
    Bytes(Vec<u8>),
}

/// One data record of a file (a line, unless a quoted field holds line ends).
pub struct Line<'a> {
    /// 1-based physical line number the record starts on (the header is line 1).
    pub number: u64,
    /// The record's bytes without its final line end (line ends inside quotes are kept).
    pub raw: &'a [u8],
    /// The record as text, when its whole block is valid UTF-8.
    pub text: Option<&'a str>,
    /// Whether the record's block has no quote, so its fields split at every comma.
    pub unquoted: bool,
    /// Whether a quoted field of the record is never closed; the record is then its first
    /// physical line only.
    pub open_quote: bool,
}

impl<R: Read> LineReader<R> {
    /// Read the header line; returns the reader positioned at the first data line.
    pub fn open(inner: R) -> Result<(Self, Vec<String>), OpenError> {
        let mut r = LineReader {
            inner,
            carry: Vec::new(),
            spare: Vec::new(),
            next_number: 2,
            eof: false,
            block: BLOCK,
            max_record: MAX_RECORD,
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
        // Room for a whole read, so the buffer is not regrown (and copied) while reading.
        self.carry.reserve(self.block + 64);
        let n = (&mut self.inner)
            .take(self.block as u64)
            .read_to_end(&mut self.carry)?;
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next block of whole records, or `None` at the end of the file.
    pub fn next_block(&mut self) -> io::Result<Option<Block>> {
        loop {
            if let Some((cut, quoted)) = self.cut() {
                // The partial record after the cut starts the next buffer (a recycled one
                // when the caller gave one back).
                let mut rest = std::mem::take(&mut self.spare);
                rest.clear();
                rest.extend_from_slice(&self.carry[cut..]);
                self.carry.truncate(cut);
                let bytes = std::mem::replace(&mut self.carry, rest);
                let first = self.next_number;
                self.next_number += memchr::memchr_iter(b'\n', &bytes).count() as u64;
                let quoted = quoted.unwrap_or_else(|| memchr::memchr(b'"', &bytes).is_some());
                return Ok(Some(Block::new(first, bytes, quoted, self.max_record)));
            }
            if self.eof {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    /// Where the next block can end (after the last whole record read so far), if it can yet,
    /// and whether the block has a quote when that is known.
    fn cut(&self) -> Option<(usize, Option<bool>)> {
        let bytes = &self.carry;
        if self.eof {
            return (!bytes.is_empty()).then_some((bytes.len(), None));
        }
        if bytes.len() < self.block {
            return None;
        }
        let lines = memchr::memrchr(b'\n', bytes)? + 1;
        if memchr::memchr(b'"', &bytes[..lines]).is_none() {
            // No quote: every line end ends a record (nearly every block).
            return Some((lines, Some(false)));
        }
        let first_line = || memchr::memchr(b'\n', bytes).map(|i| (i + 1, Some(true)));
        let mut from = 0;
        loop {
            match record_end(&bytes[..lines], from, self.max_record) {
                RecordEnd::Line(at) => from = at + 1,
                // The records before the cut; the last one goes on past it, or is too long
                // (and is cut at its first line when it comes first).
                RecordEnd::Open | RecordEnd::Data | RecordEnd::TooLong if from > 0 => {
                    return Some((from, None));
                }
                // A record longer than a record can be: its quote is taken as never closed,
                // and the block is its first line (read as an open record).
                RecordEnd::TooLong => return first_line(),
                RecordEnd::Open | RecordEnd::Data => {
                    return (record_end(bytes, 0, self.max_record) == RecordEnd::TooLong)
                        .then(first_line)
                        .flatten();
                }
            }
        }
    }

    /// Give back a block that is done with, so its buffer is used again.
    pub fn recycle(&mut self, block: Block) {
        self.spare = match block.content {
            Content::Text(t) => t.into_bytes(),
            Content::Bytes(b) => b,
        };
    }

    /// What the records are read from.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Read `block` bytes at a time and take a record longer than `max_record` as open.
    #[cfg(test)]
    fn with_limits(mut self, block: usize, max_record: usize) -> Self {
        self.block = block;
        self.max_record = max_record;
        self
    }
}

/// Where a record ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordEnd {
    /// At the line end at this position (outside quotes).
    Line(usize),
    /// At the end of the bytes, outside quotes and without a line end.
    Data,
    /// Not within the bytes: a quoted field is still open at their end.
    Open,
    /// Never: a quoted field is still open `max` bytes after the record started.
    TooLong,
}

/// Where the record starting at `from` ends; a quoted field still open `max` bytes after
/// `from` is taken as never closed. Only quotes and line ends are looked at (found by
/// `memchr`): a quote opens a quoted field as a field's first byte (the record's first, or one
/// after a comma outside quotes); inside, `""` is a quote and a lone quote closes it.
fn record_end(bytes: &[u8], from: usize, max: usize) -> RecordEnd {
    let limit = bytes.len().min(from.saturating_add(max));
    let mut at = from;
    while let Some(i) = memchr::memchr2(b'"', b'\n', &bytes[at..]) {
        let i = at + i;
        if bytes[i] == b'\n' {
            return RecordEnd::Line(i);
        }
        at = i + 1;
        if i == from || bytes[i - 1] == b',' {
            loop {
                let Some(q) = bytes.get(at..limit).and_then(|b| memchr::memchr(b'"', b)) else {
                    return if limit < bytes.len() {
                        RecordEnd::TooLong
                    } else {
                        RecordEnd::Open
                    };
                };
                let q = at + q;
                if bytes.get(q + 1) == Some(&b'"') {
                    at = q + 2;
                } else {
                    at = q + 1;
                    break;
                }
            }
        }
    }
    RecordEnd::Data
}

/// A reader after the file's header, or `None` for a file that is not CSV.
fn csv_or_none<R: Read>(file: R) -> io::Result<Option<LineReader<R>>> {
    match LineReader::open(file) {
        Ok((reader, _header)) => Ok(Some(reader)),
        Err(OpenError::Fault(_)) => Ok(None),
        Err(OpenError::Io(e)) => Err(e),
    }
}

/// Every data record of a file in turn. A file that is not CSV (empty, or a header that is not
/// text) has none: the opt-out scans use this and leave rejecting such files to ingest.
pub fn for_each_line(file: impl Read, mut f: impl FnMut(Line<'_>)) -> io::Result<()> {
    let Some(mut reader) = csv_or_none(file)? else {
        return Ok(());
    };
    while let Some(block) = reader.next_block()? {
        block.lines().for_each(&mut f);
        reader.recycle(block);
    }
    Ok(())
}

/// Every data record of a file that contains one of `needles` (and every record of a block
/// that has quotes, where a field's text may differ from its bytes and a record may span
/// lines), found by searching each block for the needles rather than reading it line by
/// line. Like [`for_each_line`], a file that is not CSV has none.
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
    let Some(mut reader) = csv_or_none(file)? else {
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
            if let Some(line) = block.line(from, end, number, false) {
                f(line);
            }
        }
        reader.recycle(block);
    }
    Ok(())
}

impl Block {
    fn new(first: u64, bytes: Vec<u8>, quoted: bool, max_record: usize) -> Self {
        let content = match String::from_utf8(bytes) {
            Ok(text) => Content::Text(text),
            Err(e) => Content::Bytes(e.into_bytes()),
        };
        Block {
            first,
            content,
            quoted,
            max_record,
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.content {
            Content::Text(t) => t.as_bytes(),
            Content::Bytes(b) => b,
        }
    }

    /// The record from byte `from` to its line end at `end`, numbered `number`; `None` if
    /// blank.
    fn line(&self, from: usize, end: usize, number: u64, open_quote: bool) -> Option<Line<'_>> {
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
            open_quote,
        })
    }

    /// Its non-blank records, without their final line ends.
    pub fn lines(&self) -> Lines<'_> {
        Lines {
            block: self,
            from: 0,
            number: self.first,
        }
    }
}

/// The records of a block in turn.
pub struct Lines<'a> {
    block: &'a Block,
    from: usize,
    number: u64,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let bytes = self.block.bytes();
        while self.from < bytes.len() {
            let from = self.from;
            let line_end =
                || memchr::memchr(b'\n', &bytes[from..]).map_or(bytes.len(), |i| from + i);
            let number = self.number;
            self.number += 1;
            let (end, open) = if self.block.quoted {
                match record_end(bytes, from, self.block.max_record) {
                    RecordEnd::Line(end) => {
                        self.number += memchr::memchr_iter(b'\n', &bytes[from..end]).count() as u64;
                        (end, false)
                    }
                    RecordEnd::Data => (bytes.len(), false),
                    // Never closed: the record is its first line, and the next starts after it.
                    RecordEnd::Open | RecordEnd::TooLong => (line_end(), true),
                }
            } else {
                (line_end(), false)
            };
            self.from = end + 1;
            if let Some(line) = self.block.line(from, end, number, open) {
                return Some(line);
            }
        }
        None
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
        let n = 3 * BLOCK / 10;
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
        let n = 3 * BLOCK / 12;
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

    /// Every record of a file as (line, raw, open), read `block` bytes at a time.
    fn records(file: &[u8], block: usize, max_record: usize) -> Vec<(u64, String, bool)> {
        let (r, _) = LineReader::open(file).map_err(|_| "not CSV").unwrap();
        let mut r = r.with_limits(block, max_record);
        let mut out = Vec::new();
        while let Some(b) = r.next_block().unwrap() {
            out.extend(b.lines().map(|l| {
                (
                    l.number,
                    String::from_utf8_lossy(l.raw).into_owned(),
                    l.open_quote,
                )
            }));
            r.recycle(b);
        }
        out
    }

    /// The records of `file` are `expected` whatever the block size.
    fn assert_records(file: &[u8], expected: &[(u64, &str, bool)]) {
        let expected: Vec<(u64, String, bool)> = expected
            .iter()
            .map(|(n, raw, open)| (*n, (*raw).to_owned(), *open))
            .collect();
        for block in [1, 2, 3, 5, 7, 11, 64, BLOCK] {
            assert_eq!(
                records(file, block, MAX_RECORD),
                expected,
                "block of {block}"
            );
        }
    }

    #[test]
    fn a_quoted_field_may_hold_line_ends_and_later_lines_keep_their_numbers() {
        let file = b"a,b\n1,\"x\ny\"\n2,z\r\n3,\"p\r\nq\",\"r\"\"s\"\n\n4,w\n5,\"\"\"\n,\"\"\"";
        assert_records(
            file,
            &[
                (2, "1,\"x\ny\"", false),
                (4, "2,z", false),
                (5, "3,\"p\r\nq\",\"r\"\"s\"", false),
                (8, "4,w", false),
                (9, "5,\"\"\"\n,\"\"\"", false),
            ],
        );
        let mut f = Fields::default();
        f.split("3,\"p\r\nq\",\"r\"\"s\"");
        assert_eq!((f.len(), f.get(1), f.get(2)), (3, "p\r\nq", "r\"s"));
    }

    #[test]
    fn a_quote_inside_a_field_is_a_character_and_text_after_a_closing_quote_is_kept() {
        let file = b"a,b\n1,5\" tall\n2,\"ab\"c,\"d\n3,e\"\n";
        assert_records(
            file,
            &[(2, "1,5\" tall", false), (3, "2,\"ab\"c,\"d\n3,e\"", false)],
        );
        let mut f = Fields::default();
        f.split("2,\"ab\"c,\"d\n3,e\"");
        assert_eq!((f.len(), f.get(1), f.get(2)), (3, "abc", "d\n3,e"));
    }

    #[test]
    fn a_quote_never_closed_is_an_open_record_of_one_line_and_reading_goes_on() {
        let file = b"a,b\n1,x\n2,\"y\n3,z\r\n\n4,w";
        assert_records(
            file,
            &[
                (2, "1,x", false),
                (3, "2,\"y", true),
                (4, "3,z", false),
                (6, "4,w", false),
            ],
        );
    }

    #[test]
    fn a_record_longer_than_the_limit_is_open_and_memory_stays_bounded() {
        // A stray quote, then 10,000 lines before anything closes it.
        let mut file = b"a,b\n1,\"x\n".to_vec();
        for i in 0..10_000 {
            file.extend_from_slice(format!("{i},y\n").as_bytes());
        }
        file.extend_from_slice(b"9,z\"\n8,w\n");
        let got = records(&file, 64, 4096);
        assert_eq!(got[0], (2, "1,\"x".to_owned(), true));
        assert_eq!(got[1], (3, "0,y".to_owned(), false));
        assert_eq!(got.len(), 10_000 + 3);
        assert_eq!(got[10_001], (10_003, "9,z\"".to_owned(), false));
        assert_eq!(got[10_002], (10_004, "8,w".to_owned(), false));
        // Within the limit, the same bytes are one record from line 2 to the closing quote.
        let whole = records(&file, 64, MAX_RECORD);
        assert_eq!((whole.len(), whole[0].0, whole[0].2), (2, 2, false));
        assert_eq!(whole[1], (10_004, "8,w".to_owned(), false));
    }

    #[test]
    fn quoted_records_across_block_boundaries_are_whole_and_numbered() {
        let mut file = b"a,b,c\n".to_vec();
        let mut expected = Vec::new();
        let mut number = 2;
        let mut i = 0;
        while file.len() < 3 * BLOCK {
            let raw = match i % 5 {
                0 => format!("{i},\"note\nline two\r\nline three\",x"),
                1 => format!("{i},\"q\"\"uote\",\"\""),
                _ => format!("{i},plain,{i}"),
            };
            file.extend_from_slice(raw.as_bytes());
            file.extend_from_slice(if i % 2 == 0 { b"\n" } else { b"\r\n" });
            expected.push((number, raw.clone(), false));
            number += 1 + raw.matches('\n').count() as u64;
            i += 1;
        }
        assert_eq!(records(&file, BLOCK, MAX_RECORD), expected);
        assert_eq!(records(&file, 1000, MAX_RECORD), expected);
    }

    #[test]
    fn lines_containing_needles_are_whole_records() {
        let file = b"a,b\n1,\"note\nwith 827241000000103\"\n2,827241000000103\n3,x\n";
        let mut found = Vec::new();
        for_each_line_containing(file.as_slice(), &[b"827241000000103"], |l| {
            found.push((l.number, l.raw.to_vec()));
        })
        .unwrap();
        assert_eq!(
            found[..2],
            [
                (2, b"1,\"note\nwith 827241000000103\"".to_vec()),
                (4, b"2,827241000000103".to_vec())
            ]
        );
        let mut all = Vec::new();
        for_each_line(file.as_slice(), |l| all.push(l.number)).unwrap();
        assert_eq!(all, [2, 4, 5]);
    }

    /// Records as (line, fields).
    type Fielded = Vec<(u64, Vec<Vec<u8>>)>;

    /// Records and fields as `csv-core` reads them (its first record is the header), each
    /// with the line it starts on.
    fn csv_core_records(input: &[u8]) -> Fielded {
        let mut reader = csv_core::Reader::new();
        let mut out = vec![0; input.len() + 1];
        let mut ends = vec![0; input.len() + 1];
        // A record may take several calls: its fields and their ends accumulate.
        let (mut pos, mut record_from, mut nout, mut nend) = (0, 0, 0, 0);
        let mut found = Vec::new();
        loop {
            let (result, nin, o, e) =
                reader.read_record(&input[pos..], &mut out[nout..], &mut ends[nend..]);
            (pos, nout, nend) = (pos + nin, nout + o, nend + e);
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::Record => {
                    let start = (record_from..input.len())
                        .find(|&i| !matches!(input[i], b'\r' | b'\n'))
                        .unwrap_or(input.len());
                    let line = 1 + memchr::memchr_iter(b'\n', &input[..start]).count() as u64;
                    let mut fields = Vec::new();
                    let mut from = 0;
                    for &end in &ends[..nend] {
                        fields.push(out[from..end].to_vec());
                        from = end;
                    }
                    found.push((line, fields));
                    (record_from, nout, nend) = (pos, 0, 0);
                }
                csv_core::ReadRecordResult::End => break,
                other => panic!("{other:?}"),
            }
        }
        found.remove(0);
        found
    }

    /// Each record's line and fields, read `block` bytes at a time, and whether a quote was
    /// left open.
    fn records_and_fields(file: &[u8], block: usize) -> (Fielded, bool) {
        let (r, _) = LineReader::open(file).map_err(|_| "not CSV").unwrap();
        let mut r = r.with_limits(block, MAX_RECORD);
        let (mut got, mut open) = (Vec::new(), false);
        let mut f = Fields::default();
        while let Some(b) = r.next_block().unwrap() {
            for l in b.lines() {
                open |= l.open_quote;
                f.split(l.text.unwrap());
                let fields = (0..f.len()).map(|i| f.get(i).as_bytes().to_vec());
                got.push((l.number, fields.collect()));
            }
            r.recycle(b);
        }
        (got, open)
    }

    #[test]
    fn records_and_fields_agree_with_csv_core_on_random_input() {
        const PIECES: [&str; 12] = [
            "a",
            "é",
            ",",
            ",",
            "\"",
            "\"\"",
            "\n",
            "\r\n",
            "1,\"x\ny\"",
            "\",\"",
            "zz",
            "\"q,",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut compared = 0;
        for _ in 0..3000 {
            let mut file = b"h\n".to_vec();
            for _ in 0..next() % 40 {
                file.extend_from_slice(PIECES[(next() % 12) as usize].as_bytes());
            }
            let text = String::from_utf8_lossy(&file).into_owned();
            let (ours, open) = records_and_fields(&file, 1 << 20);
            for block in [1, 2, 3, 7] {
                assert_eq!(
                    records_and_fields(&file, block).0,
                    ours,
                    "block of {block}: {text:?}"
                );
            }
            // csv-core ends a record at the end of the input however its quote stands.
            if !open {
                assert_eq!(ours, csv_core_records(&file), "{text:?}");
                compared += 1;
            }
        }
        assert!(compared > 1500, "{compared}");
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
