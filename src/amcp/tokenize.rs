//! A faithful port of CasparCG's AMCP command-line tokenizer, in its 2.3 and 2.4 dialects.
//!
//! The simulator parses with it, and the encoder's tests feed encoded commands through it to prove that
//! what we send is what the server reads. Rules (docs/amcp-notes.md §3): escapes are processed first, everywhere;
//! only `\\`, `\"` and `\n` exist and any other backslash pair vanishes; only the space separates tokens;
//! `"` toggles quoting and a closing quote always emits a token (so `""` is an empty parameter); in 2.4 an
//! opening quote does not flush the text before it, in 2.3 it does; 2.4 groups `( … )` into one token.

/// Which server generation's tokenizer rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenizerDialect {
    /// CasparCG 2.3: an opening quote flushes the pending token; no parenthesis grouping.
    V23,
    /// CasparCG 2.4 and later.
    V24,
}

/// One character after escape processing: escaped characters never act as syntax.
#[derive(Clone, Copy)]
enum Ch {
    Plain(char),
    Escaped(char),
}

fn unescape(line: &str) -> Vec<Ch> {
    let mut out = Vec::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(Ch::Plain(c));
            continue;
        }
        // The server drops unknown escapes, both characters, and a trailing lone backslash.
        match chars.next() {
            Some('\\') => out.push(Ch::Escaped('\\')),
            Some('"') => out.push(Ch::Escaped('"')),
            Some('n') => out.push(Ch::Escaped('\n')),
            _ => {}
        }
    }
    out
}

/// Splits one command line (without its CRLF) into parameters exactly as the server does.
pub fn tokenize(line: &str, dialect: TokenizerDialect) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    let mut paren_depth = 0usize;
    for ch in unescape(line) {
        let c = match ch {
            Ch::Escaped(c) => {
                current.push(c);
                continue;
            }
            Ch::Plain(c) => c,
        };
        if paren_depth > 0 {
            current.push(c);
            match c {
                '(' => paren_depth += 1,
                ')' => paren_depth -= 1,
                _ => {}
            }
            continue;
        }
        match c {
            '"' if in_quote => {
                tokens.push(std::mem::take(&mut current));
                in_quote = false;
            }
            '"' => {
                if dialect == TokenizerDialect::V23 && !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                in_quote = true;
            }
            ' ' if !in_quote => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            '(' if !in_quote && dialect == TokenizerDialect::V24 => {
                current.push(c);
                paren_depth = 1;
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::TokenizerDialect::{V23, V24};
    use super::*;

    fn t(line: &str, d: TokenizerDialect) -> Vec<String> {
        tokenize(line, d)
    }

    #[test]
    fn reference_vectors() {
        for d in [V23, V24] {
            assert_eq!(
                t(r#"PLAY 1-10 "my clip" LOOP"#, d),
                ["PLAY", "1-10", "my clip", "LOOP"]
            );
            assert_eq!(t(r#"PLAY 1-10 """#, d), ["PLAY", "1-10", ""]);
            assert_eq!(
                t(r#"CG 1-20 UPDATE 1 "{\"a\":\"x\$y\"}""#, d),
                ["CG", "1-20", "UPDATE", "1", r#"{"a":"xy"}"#]
            );
            assert_eq!(
                t(r#"CG 1-20 UPDATE 1 "line1\nline2""#, d),
                ["CG", "1-20", "UPDATE", "1", "line1\nline2"]
            );
        }
        assert_eq!(
            t("PLAY 1-10 AMB STING (MASK=m TRIGGER_POINT=15)", V24),
            ["PLAY", "1-10", "AMB", "STING", "(MASK=m TRIGGER_POINT=15)"]
        );
        assert_eq!(
            t("PLAY 1-10 AMB STING (MASK=m TRIGGER_POINT=15)", V23),
            [
                "PLAY",
                "1-10",
                "AMB",
                "STING",
                "(MASK=m",
                "TRIGGER_POINT=15)"
            ]
        );
    }

    #[test]
    fn opening_quote_flush_differs_by_dialect() {
        assert_eq!(t(r#"a"b c"d"#, V24), ["ab c", "d"]);
        assert_eq!(t(r#"a"b c"d"#, V23), ["a", "b c", "d"]);
    }

    #[test]
    fn spaces_collapse_and_tabs_are_data() {
        assert_eq!(t("  PLAY   1-10\tX  ", V24), ["PLAY", "1-10\tX"]);
        assert!(t("", V24).is_empty());
        assert!(t("    ", V23).is_empty());
    }

    #[test]
    fn escaped_quote_is_data_and_unknown_escapes_vanish() {
        assert_eq!(t(r#"A \"B"#, V24), ["A", "\"B"]);
        assert_eq!(t(r"A B\tC\r\", V24), ["A", "BC"]);
        assert_eq!(t(r"A \\x", V24), ["A", "\\x"]);
    }

    #[test]
    fn unmatched_paren_takes_rest_of_line() {
        assert_eq!(t("A (x y z", V24), ["A", "(x y z"]);
        assert_eq!(t("A (x (y) z) w", V24), ["A", "(x (y) z)", "w"]);
        assert_eq!(t(r#"A "(x y)""#, V24), ["A", "(x y)"]);
    }
}
