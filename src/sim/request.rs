//! A command line after the parser's lookup: what the queues hand to the executor.

/// A parsed, registered command, ready to execute on its queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRequest {
    /// The registered name, upper-case, subcommand included: `PLAY`, `MIXER OPACITY`, `CG ADD`,
    /// `INFO`, `INFO PATHS`, `CALL`, `CLEAR ALL`, `OSC SUBSCRIBE`, `THUMBNAIL LIST`, …
    pub name: &'static str,
    /// 1-based channel for channel commands (already validated against the channel count).
    pub channel: Option<u16>,
    /// Layer as given (`1-10` → 10); `None` when the address had no layer.
    pub layer: Option<i32>,
    /// Remaining parameters after the address and subcommand word, as tokenized (case preserved).
    pub params: Vec<String>,
    /// The `REQ` id the command came with (kept for the command log: in cluster mode onair's ids
    /// carry the leader's term, `t<term>-<n>`).
    pub req_id: Option<String>,
}

impl SimRequest {
    /// Whether any parameter equals `keyword`, case-insensitively: the server scans *all* parameters
    /// for flags (`contains_param`), so a clip literally named `LOOP` also sets looping.
    pub fn has_flag(&self, keyword: &str) -> bool {
        self.params.iter().any(|p| p.eq_ignore_ascii_case(keyword))
    }

    /// The value after `keyword` (case-insensitive), if present.
    pub fn flag_value(&self, keyword: &str) -> Option<&str> {
        let i = self
            .params
            .iter()
            .position(|p| p.eq_ignore_ascii_case(keyword))?;
        self.params.get(i + 1).map(String::as_str)
    }
}

/// What executing a request produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The full reply text, every line CRLF-terminated, without the `RES <id> ` prefix
    /// (the server layer adds it), e.g. `"202 PLAY OK\r\n"` or `"201 CALL OK\r\n100\r\n"`.
    Reply(String),
    /// No reply at all: 2.4 swallows exceptions of deferred CALL/CALLBG results.
    Silent,
}
