//! Reading an extract file as lines and fields, keeping what validation needs: the physical
//! line number of every row, whether it is valid UTF-8, and how many fields it has.
//!
//! A UTF-8 byte order mark is skipped; CR LF and LF line ends are both accepted; fields may
//! be quoted (`"a,b"`, with `""` for a quote). Blank lines are skipped but still counted, so
//! line numbers are those an editor shows.

/// One data line of a file.
pub struct Line<'a> {
    /// 1-based physical line number (the header is line 1).
    pub number: u64,
    /// The line's bytes without its line end.
    pub raw: &'a [u8],
}

/// The header and data lines of a file held in memory.
pub struct CsvFile<'a> {
    /// Header fields.
    pub header: Vec<String>,
    /// Data lines.
    pub lines: Vec<Line<'a>>,
}

/// What is wrong with a file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFault {
    /// No bytes, or no header line.
    Empty,
    /// The header is not text.
    HeaderNotText,
}

/// Split a file's bytes into header and data lines.
pub fn split(bytes: &[u8]) -> Result<CsvFile<'_>, FileFault> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut lines = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let header_raw = lines
        .next()
        .filter(|h| !h.is_empty())
        .ok_or(FileFault::Empty)?;
    let header_text = std::str::from_utf8(header_raw).map_err(|_| FileFault::HeaderNotText)?;
    let header = fields(header_text.as_bytes())
        .into_iter()
        .map(|f| String::from_utf8_lossy(&f).trim().to_owned())
        .collect();
    let mut out = Vec::new();
    for (i, raw) in lines.enumerate() {
        if raw.is_empty() {
            continue;
        }
        out.push(Line {
            number: i as u64 + 2,
            raw,
        });
    }
    Ok(CsvFile { header, lines: out })
}

/// Split one line into fields. Quoted fields lose their quotes; `""` inside becomes `"`.
pub fn fields(line: &[u8]) -> Vec<std::borrow::Cow<'_, [u8]>> {
    use std::borrow::Cow;
    if !line.contains(&b'"') {
        return line.split(|&b| b == b',').map(Cow::Borrowed).collect();
    }
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut in_quotes = false;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        match (in_quotes, b) {
            (true, b'"') if line.get(i + 1) == Some(&b'"') => {
                cur.push(b'"');
                i += 1;
            }
            (true, b'"') => in_quotes = false,
            (false, b'"') if cur.is_empty() => in_quotes = true,
            (false, b',') => out.push(Cow::Owned(std::mem::take(&mut cur))),
            _ => cur.push(b),
        }
        i += 1;
    }
    out.push(Cow::Owned(cur));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_crlf_and_blank_lines_keep_true_line_numbers() {
        let file = b"\xEF\xBB\xBFa,b\r\n1,2\r\n\r\n3,4\r\n";
        let csv = split(file).unwrap();
        assert_eq!(csv.header, vec!["a", "b"]);
        let got: Vec<(u64, &[u8])> = csv.lines.iter().map(|l| (l.number, l.raw)).collect();
        assert_eq!(got, vec![(2, &b"1,2"[..]), (4, &b"3,4"[..])]);
    }

    #[test]
    fn quoted_fields() {
        let f: Vec<Vec<u8>> = fields(br#"a,"b,c","say ""hi""",d"#)
            .into_iter()
            .map(std::borrow::Cow::into_owned)
            .collect();
        assert_eq!(
            f,
            vec![
                b"a".to_vec(),
                b"b,c".to_vec(),
                b"say \"hi\"".to_vec(),
                b"d".to_vec()
            ]
        );
        assert_eq!(fields(b"a,,b").len(), 3);
    }

    #[test]
    fn empty_and_binary_files_are_faults() {
        assert_eq!(split(b"").err(), Some(FileFault::Empty));
        assert_eq!(split(b"\n1,2").err(), Some(FileFault::Empty));
        assert_eq!(
            split(b"\xff\xfe,\x00\n").err(),
            Some(FileFault::HeaderNotText)
        );
    }
}
