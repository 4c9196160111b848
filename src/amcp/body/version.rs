//! The `201 VERSION OK` body: `<major>.<minor>.<patch> <git-hash> <tag>` and what it implies
//! about the protocol features a server offers.

use super::BodyError;

/// A parsed server version, e.g. `2.4.3 fd9168c73 Stable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch ("bug") version; 0 when the string has only two parts.
    pub patch: u32,
    /// Git short hash or build number; empty when absent.
    pub revision: String,
    /// Release tag such as `Stable`, `Dev`, `Beta 2`; empty when absent.
    pub tag: String,
    /// The body as received, trimmed.
    pub raw: String,
}

impl ServerVersion {
    /// True if the version is `major.minor` or later.
    pub fn is_at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// Whether `REQ <id>` prefixes are understood: added in 2.1.0 Beta 2, present in every 2.2+.
    pub fn supports_req(&self) -> bool {
        if self.is_at_least(2, 2) {
            return true;
        }
        self.major == 2 && self.minor == 1 && !self.tag.to_ascii_lowercase().contains("beta 1")
    }

    /// Whether `BEGIN`/`COMMIT`/`DISCARD`, `CALLBG`, `CLEAR ALL` and `OSC SUBSCRIBE` exist (2.4+).
    pub fn supports_batch(&self) -> bool {
        self.is_at_least(2, 4)
    }

    /// Whether `INFO <n>` carries a `<format>` element (2.4+).
    pub fn reports_format(&self) -> bool {
        self.is_at_least(2, 4)
    }
}

impl std::fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

fn number(part: Option<&str>, body: &str, which: &str) -> Result<u32, BodyError> {
    let part = part.ok_or_else(|| BodyError::new("VERSION", body, format!("missing {which}")))?;
    part.parse()
        .map_err(|_| BodyError::new("VERSION", body, format!("{which} {part:?} is not a number")))
}

/// A revision token is a hex git hash (or a build number); tags like `Stable` are not.
fn looks_like_revision(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses the VERSION body; tolerates a missing hash/tag and four-part 2.0-era numbers
/// (`2.0.7.e9fc25a Stable`, where the fourth part is the revision).
pub fn parse_version(body: &str) -> Result<ServerVersion, BodyError> {
    let raw = body.trim();
    let mut tokens = raw.split_whitespace();
    let numbers = tokens
        .next()
        .ok_or_else(|| BodyError::new("VERSION", body, "empty"))?;
    let mut parts = numbers.splitn(4, '.');
    let major = number(parts.next(), body, "major version")?;
    let minor = number(parts.next(), body, "minor version")?;
    let patch = match parts.next() {
        Some(p) => number(Some(p), body, "patch version")?,
        None => 0,
    };
    let mut revision = parts.next().unwrap_or_default().to_owned();
    let mut rest: Vec<&str> = tokens.collect();
    if revision.is_empty()
        && let Some(first) = rest.first()
        && looks_like_revision(first)
    {
        revision = (*first).to_owned();
        rest.remove(0);
    }
    Ok(ServerVersion {
        major,
        minor,
        patch,
        revision,
        tag: rest.join(" "),
        raw: raw.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_release() {
        let v = parse_version("2.4.3 fd9168c73 Stable").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (2, 4, 3));
        assert_eq!(v.revision, "fd9168c73");
        assert_eq!(v.tag, "Stable");
        assert_eq!(v.raw, "2.4.3 fd9168c73 Stable");
        assert!(v.supports_req() && v.supports_batch() && v.is_at_least(2, 4));
        assert!(!v.is_at_least(2, 5));
        assert_eq!(v.to_string(), "2.4.3 fd9168c73 Stable");
    }

    #[test]
    fn dev_build_and_short_forms() {
        let v = parse_version("2.3.0 4176a9b1 Dev").unwrap();
        assert_eq!(
            (v.major, v.minor, v.patch, v.tag.as_str()),
            (2, 3, 0, "Dev")
        );
        assert!(v.supports_req() && !v.supports_batch());

        let v = parse_version("2.5.0\r\n").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (2, 5, 0));
        assert!(v.revision.is_empty() && v.tag.is_empty());

        let v = parse_version("2.4.0 Stable").unwrap();
        assert_eq!((v.revision.as_str(), v.tag.as_str()), ("", "Stable"));

        let v = parse_version("2.0.7.e9fc25a Stable").unwrap();
        assert_eq!((v.patch, v.revision.as_str()), (7, "e9fc25a"));
        assert!(!v.supports_req());

        let v = parse_version("2.1.0 3437 Beta 1").unwrap();
        assert_eq!(v.tag, "Beta 1");
        assert!(!v.supports_req());
        assert!(parse_version("2.1.0 abc Beta 2").unwrap().supports_req());
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "   ", "Stable", "2", "x.4.3 abc", "2.4.x"] {
            assert!(parse_version(bad).is_err(), "{bad:?}");
        }
    }
}
