//! The server's line splitter, quirks included (docs/amcp-notes.md §1.2).
//!
//! Within one receive, the first terminator is found by an exact search for CRLF, every later one by
//! "first CR or LF", and then two bytes are skipped. So a stray bare LF inside the second or later
//! command of a read splits it early and eats the byte after it, exactly as CasparCG does.

/// Buffers received bytes and yields complete command lines (without terminators).
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    /// Bytes buffered but not yet part of a complete line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Feeds one receive's bytes and returns the lines it completed, decoded as UTF-8 with invalid
    /// sequences skipped (Boost.Locale's default).
    pub fn feed(&mut self, data: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(data);
        let mut lines = Vec::new();
        let mut start = 0;
        let mut pos = memchr::memmem::find(&self.buf, b"\r\n");
        while let Some(p) = pos {
            let end = start + p;
            lines.push(decode_skipping_invalid(&self.buf[start..end]));
            start = (end + 2).min(self.buf.len());
            pos = memchr::memchr2(b'\r', b'\n', &self.buf[start..]);
        }
        self.buf.drain(..start);
        lines
    }
}

fn decode_skipping_invalid(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_well_formed_lines() {
        let mut s = LineSplitter::default();
        assert_eq!(s.feed(b"A\r\nB\r\nC\r\n"), ["A", "B", "C"]);
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn lines_split_across_reads() {
        let mut s = LineSplitter::default();
        assert!(s.feed(b"VERS").is_empty());
        assert_eq!(s.feed(b"ION\r\n"), ["VERSION"]);
    }

    #[test]
    fn bare_lf_in_first_line_is_data() {
        // Recorded on 2.4.3: `VERSION\n` then `\r\n` yields `400 ERROR` echoing `VERSION\n`.
        let mut s = LineSplitter::default();
        assert!(s.feed(b"VERSION\n").is_empty());
        assert_eq!(s.feed(b"\r\n"), ["VERSION\n"]);
    }

    #[test]
    fn stray_lf_in_later_line_splits_and_eats_a_byte() {
        let mut s = LineSplitter::default();
        assert_eq!(s.feed(b"A\r\nB\nXC\r\n"), ["A", "B", "C"]);
    }

    #[test]
    fn empty_line_and_invalid_utf8() {
        let mut s = LineSplitter::default();
        assert_eq!(s.feed(b"\r\n"), [""]);
        assert_eq!(s.feed(b"PLAY 1-10 \xffAMB\r\n"), ["PLAY 1-10 AMB"]);
        assert_eq!(
            s.feed("PLAY 1-10 \"CAFÉ\"\r\n".as_bytes()),
            ["PLAY 1-10 \"CAFÉ\""]
        );
    }
}
