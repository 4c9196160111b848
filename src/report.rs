//! Errors in words for people: an error and its causes on one line, each cause said once.
//!
//! Many error types print their cause in their own message (`create DIR: Not a directory (os error
//! 20)`) *and* return it from `source()`, as thiserror's `#[source]` with `{source}` in the format
//! does. anyhow's `{:#}` appends every `source()`, so such a cause came out twice
//! (`…: Not a directory (os error 20): Not a directory (os error 20)`). [`chain`] appends a cause
//! only when the text so far does not already say it, which fixes that for every type at once.

use std::error::Error;

/// `error: cause: cause's cause`, skipping causes the text already contains.
pub fn chain(error: &anyhow::Error) -> String {
    join(error.chain())
}

/// [`chain`] for any error that is not wrapped in `anyhow`.
pub fn chain_of(error: &(dyn Error + 'static)) -> String {
    join(std::iter::successors(Some(error), |e| (*e).source()))
}

fn join<'a>(mut errors: impl Iterator<Item = &'a (dyn Error + 'static)>) -> String {
    let mut text = errors.next().map(ToString::to_string).unwrap_or_default();
    for cause in errors {
        let cause = cause.to_string();
        if !cause.is_empty() && !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use std::io;

    use anyhow::Context;

    use super::*;

    /// Prints its source in its own message and returns it from `source()` too.
    #[derive(Debug, thiserror::Error)]
    #[error("create {path}: {source}")]
    struct Create {
        path: String,
        #[source]
        source: io::Error,
    }

    fn not_a_directory() -> io::Error {
        io::Error::from_raw_os_error(20)
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let inner = Create {
            path: "/etc/passwd/x".into(),
            source: not_a_directory(),
        };
        let os = not_a_directory().to_string();
        let e = Err::<(), _>(inner)
            .context("cannot open the data directory")
            .unwrap_err();
        let text = chain(&e);
        assert_eq!(
            text,
            format!("cannot open the data directory: create /etc/passwd/x: {os}")
        );
        assert_eq!(text.matches(&os).count(), 1, "{text}");
    }

    #[test]
    fn causes_that_are_not_in_the_message_are_appended() {
        let e = Err::<(), _>(not_a_directory())
            .context("reading the playlist")
            .context("cannot start")
            .unwrap_err();
        assert_eq!(
            chain(&e),
            format!("cannot start: reading the playlist: {}", not_a_directory())
        );
        let io = io::Error::other(Create {
            path: "p".into(),
            source: not_a_directory(),
        });
        assert_eq!(chain_of(&io), format!("create p: {}", not_a_directory()));
    }
}
