//! A port of what `INFO n` does with the state map: Boost property_tree paths, the digit-segment
//! regex, value formatting (`%.17g` doubles) and the pretty XML writer (3-space indent, bare LF).

/// `%.17g`, as a C++ stream with precision 17 (Boost's `max_digits10` for double) prints a double:
/// 17 significant digits with trailing zeros removed, so 0.88 → `0.88`, 0.4 → `0.40000000000000002`,
/// 1.4 → `1.3999999999999999`, 10.0 → `10`, 0.0 → `0`.
pub fn format_g17(v: f64) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    const P: i32 = 17;
    let sci = format!("{:.*e}", (P - 1) as usize, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4..P).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        let rest = rest.trim_end_matches('0');
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
        return out;
    }
    let (int_part, frac_part) = if exp >= 0 {
        let split = (exp + 1) as usize;
        (digits[..split].to_string(), digits[split..].to_string())
    } else {
        (
            "0".to_string(),
            format!("{}{}", "0".repeat((-exp - 1) as usize), digits),
        )
    };
    out.push_str(&int_part);
    let frac = frac_part.trim_end_matches('0');
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// The state key as an XML path: `/` → `.`, then Boost `replace_all_regex_copy` with
/// `\.(.*?)\.([0-9]*?)\.` → `.$1.$1_$2.` (non-overlapping, left to right). Because `$1` is lazy but
/// may span dots, `…foreground.file.streams.0.fps` becomes `…foreground.file.streams.file.streams_0.fps`.
pub fn xml_path(key: &str) -> String {
    let s: Vec<char> = key
        .chars()
        .map(|c| if c == '/' { '.' } else { c })
        .collect();
    let mut out = String::with_capacity(s.len() + 16);
    let mut pos = 0;
    while pos < s.len() {
        match match_at(&s, pos) {
            Some((g1, g2, end)) => {
                let g1: String = s[g1.0..g1.1].iter().collect();
                let g2: String = s[g2.0..g2.1].iter().collect();
                out.push_str(&format!(".{g1}.{g1}_{g2}."));
                pos = end;
            }
            None => {
                out.push(s[pos]);
                pos += 1;
            }
        }
    }
    out
}

type Span = (usize, usize);

/// Tries the regex at `pos` with Perl backtracking order (lazy groups grow one char at a time).
fn match_at(s: &[char], pos: usize) -> Option<(Span, Span, usize)> {
    if s.get(pos) != Some(&'.') {
        return None;
    }
    let g1_start = pos + 1;
    for g1_end in g1_start..s.len() {
        if s[g1_end] == '.' {
            let g2_start = g1_end + 1;
            let mut g2_end = g2_start;
            loop {
                if s.get(g2_end) == Some(&'.') {
                    return Some(((g1_start, g1_end), (g2_start, g2_end), g2_end + 1));
                }
                if !s.get(g2_end).is_some_and(char::is_ascii_digit) {
                    break;
                }
                g2_end += 1;
            }
        }
    }
    None
}

/// A property tree node: children keep insertion order, duplicates allowed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PTree {
    pub data: String,
    pub children: Vec<(String, PTree)>,
}

impl PTree {
    /// `ptree::add(path, value)`: walk/create the parents (first child with a matching key), then
    /// always append a new leaf, so repeated adds make sibling elements.
    pub fn add(&mut self, path: &str, value: String) {
        let mut node = self;
        let mut segments = path.split('.').peekable();
        while let Some(seg) = segments.next() {
            if segments.peek().is_none() {
                node.children.push((
                    seg.to_string(),
                    PTree {
                        data: value,
                        children: Vec::new(),
                    },
                ));
                return;
            }
            let i = match node.children.iter().position(|(k, _)| k == seg) {
                Some(i) => i,
                None => {
                    node.children.push((seg.to_string(), PTree::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i].1;
        }
    }

    /// `write_xml` with `xml_writer_settings(' ', 3)`: declaration, then the children of this root.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        for (k, child) in &self.children {
            write_element(&mut out, k, child, 0);
        }
        out
    }
}

fn write_element(out: &mut String, key: &str, node: &PTree, indent: usize) {
    let pad = " ".repeat(indent * 3);
    if node.data.is_empty() && node.children.is_empty() {
        out.push_str(&format!("{pad}<{key}/>\n"));
        return;
    }
    out.push_str(&format!("{pad}<{key}>"));
    if !node.children.is_empty() {
        out.push('\n');
    }
    out.push_str(&escape(&node.data));
    for (k, child) in &node.children {
        write_element(out, k, child, indent + 1);
    }
    if !node.children.is_empty() {
        out.push_str(&pad);
    }
    out.push_str(&format!("</{key}>\n"));
}

/// Boost's `encode_char_entities`: the five entities, and an all-space value as `&#32;` + spaces.
pub fn escape(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b == b' ') {
        return format!("&#32;{}", " ".repeat(s.len() - 1));
    }
    let mut r = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => r.push_str("&lt;"),
            '>' => r.push_str("&gt;"),
            '&' => r.push_str("&amp;"),
            '"' => r.push_str("&quot;"),
            '\'' => r.push_str("&apos;"),
            c => r.push(c),
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_the_recordings() {
        assert_eq!(format_g17(22.0 / 25.0), "0.88");
        assert_eq!(format_g17(10.0 / 25.0), "0.40000000000000002");
        assert_eq!(format_g17(35.0 / 25.0), "1.3999999999999999");
        assert_eq!(format_g17(47.0 / 50.0), "0.93999999999999995");
        assert_eq!(format_g17(72.0 / 50.0), "1.4399999999999999");
        assert_eq!(format_g17(250.0 / 25.0), "10");
        assert_eq!(format_g17(0.0), "0");
        assert_eq!(format_g17(0.5), "0.5");
        assert_eq!(format_g17(268.0 / 25.0), "10.720000000000001");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(1.5e-5), "1.5e-05");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1e-5 / 3.0), "3.3333333333333337e-06");
        assert_eq!(format_g17(-2.5), "-2.5");
        assert_eq!(format_g17(123456789012345678.0), "1.2345678901234568e+17");
    }

    #[test]
    fn digit_segments_rewritten_like_boost() {
        assert_eq!(
            xml_path("stage/layer/10/background/producer"),
            "stage.layer.layer_10.background.producer"
        );
        assert_eq!(
            xml_path("stage/layer/10/foreground/file/streams/0/fps"),
            "stage.layer.layer_10.foreground.file.streams.file.streams_0.fps"
        );
        assert_eq!(xml_path("mixer/audio/volume"), "mixer.audio.volume");
        assert_eq!(xml_path("framerate"), "framerate");
        assert_eq!(
            xml_path("output/port/600/consumer"),
            "output.port.port_600.consumer"
        );
    }

    #[test]
    fn writer_shapes() {
        let mut t = PTree::default();
        t.add("channel.a", "1".into());
        t.add("channel.a", "2".into());
        t.add("channel.b.c", "<x&'\">".into());
        t.add("channel.e", String::new());
        t.add("channel.s", "  ".into());
        assert_eq!(
            t.to_xml(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<channel>\n   <a>1</a>\n   <a>2</a>\n   <b>\n      \
             <c>&lt;x&amp;&apos;&quot;&gt;</c>\n   </b>\n   <e/>\n   <s>&#32; </s>\n</channel>\n"
        );
    }
}
