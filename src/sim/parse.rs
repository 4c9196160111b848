//! The server's parser: PING, REQ, batches, command lookup and the errors it answers immediately.
//!
//! This follows `AMCPProtocolStrategy` and `amcp_command_repository` (docs/amcp-notes.md §1.4, §1.5, §2, §3, §4.9):
//! a numeric first parameter makes a channel command only if such a channel command exists and the channel
//! does; otherwise the token is put back and a global command is tried (`INFO 2` on a one-channel server
//! lists channels). Lookup tries `NAME SUB` before `NAME`. In 2.4 a lookup failure of any kind is
//! `400 ERROR` + echo; 2.3 says `401 <CMD> ERROR` for a bad channel and `402 <CMD> ERROR` for too few
//! parameters.

use super::dialect::Dialect;
use super::request::SimRequest;
use crate::amcp::tokenize;

/// Whether a registered command addresses a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Channel,
    Global,
}

/// One registered command: name (with subcommand), scope, minimum parameters, and 2.3 availability.
struct Entry {
    name: &'static str,
    scope: Scope,
    min: usize,
    in_v23: bool,
}

const fn ch(name: &'static str, min: usize) -> Entry {
    Entry {
        name,
        scope: Scope::Channel,
        min,
        in_v23: true,
    }
}
const fn gl(name: &'static str, min: usize) -> Entry {
    Entry {
        name,
        scope: Scope::Global,
        min,
        in_v23: true,
    }
}
const fn v24(mut e: Entry) -> Entry {
    e.in_v23 = false;
    e
}

/// `register_commands` of 2.4 (docs/amcp-notes.md §4.1). BEGIN/COMMIT/DISCARD, PING and REQ live in the parser.
const REGISTRY: &[Entry] = &[
    ch("LOADBG", 1),
    v24(ch("CALLBG", 1)),
    ch("LOAD", 0),
    ch("PLAY", 0),
    ch("PAUSE", 0),
    ch("RESUME", 0),
    ch("STOP", 0),
    ch("CLEAR", 0),
    ch("CALL", 1),
    ch("SWAP", 1),
    ch("ADD", 1),
    ch("REMOVE", 0),
    ch("PRINT", 0),
    ch("SET", 2),
    ch("INFO", 0),
    ch("MIXER KEYER", 0),
    ch("MIXER INVERT", 0),
    ch("MIXER CHROMA", 0),
    ch("MIXER BLEND", 0),
    ch("MIXER OPACITY", 0),
    ch("MIXER BRIGHTNESS", 0),
    ch("MIXER SATURATION", 0),
    ch("MIXER CONTRAST", 0),
    ch("MIXER LEVELS", 0),
    ch("MIXER FILL", 0),
    ch("MIXER CLIP", 0),
    ch("MIXER ANCHOR", 0),
    ch("MIXER CROP", 0),
    ch("MIXER ROTATION", 0),
    ch("MIXER PERSPECTIVE", 0),
    ch("MIXER VOLUME", 0),
    ch("MIXER MASTERVOLUME", 0),
    ch("MIXER GRID", 1),
    ch("MIXER COMMIT", 0),
    ch("MIXER CLEAR", 0),
    ch("CG ADD", 3),
    ch("CG PLAY", 1),
    ch("CG STOP", 1),
    ch("CG NEXT", 1),
    ch("CG REMOVE", 1),
    ch("CG CLEAR", 0),
    ch("CG UPDATE", 2),
    ch("CG INVOKE", 2),
    v24(gl("CLEAR ALL", 0)),
    gl("LOG LEVEL", 0),
    gl("LOCK", 2),
    gl("DATA STORE", 2),
    gl("DATA RETRIEVE", 1),
    gl("DATA LIST", 0),
    gl("DATA REMOVE", 1),
    gl("CHANNEL_GRID", 0),
    gl("THUMBNAIL LIST", 0),
    gl("THUMBNAIL RETRIEVE", 1),
    gl("THUMBNAIL GENERATE", 1),
    gl("THUMBNAIL GENERATE_ALL", 0),
    gl("CINF", 1),
    gl("CLS", 0),
    gl("FLS", 0),
    gl("TLS", 0),
    gl("VERSION", 0),
    gl("INFO", 0),
    gl("INFO CONFIG", 0),
    gl("INFO PATHS", 0),
    gl("DIAG", 0),
    gl("GL INFO", 0),
    gl("GL GC", 0),
    gl("KILL", 0),
    gl("RESTART", 0),
    v24(gl("OSC SUBSCRIBE", 1)),
    v24(gl("OSC UNSUBSCRIBE", 1)),
];

/// Every registered command name, for cross-checking the executor.
pub fn registered_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|e| e.name)
}

/// What the connection must do with one received line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this text at once, bypassing the queues (parser errors, PONG).
    Immediate(String),
    /// Nothing to send (BEGIN, DISCARD, a command stored in an open batch).
    Nothing,
    /// Close the connection without a reply.
    Bye,
    /// Execute on a queue and reply with `RES <req_id>` if given.
    Execute {
        req_id: Option<String>,
        request: SimRequest,
    },
    /// Execute a committed batch on the general queue; the COMMIT reply carries BEGIN's id.
    Commit {
        begin_id: Option<String>,
        items: Vec<(Option<String>, SimRequest)>,
    },
}

/// Per-connection parser state: the dialect, the channel count and an open batch, if any.
#[derive(Debug)]
pub struct Parser {
    dialect: Dialect,
    channels: usize,
    batch: Option<Batch>,
}

#[derive(Debug)]
struct Batch {
    begin_id: Option<String>,
    items: Vec<(Option<String>, SimRequest)>,
}

/// Most commands a batch may hold; the server has no limit, but the simulator must not grow forever.
const MAX_BATCH: usize = 4096;

impl Parser {
    /// A parser for a server of `dialect` with `channels` channels.
    pub fn new(dialect: Dialect, channels: usize) -> Self {
        Parser {
            dialect,
            channels,
            batch: None,
        }
    }

    /// Interprets one line (without CRLF).
    pub fn line(&mut self, line: &str) -> Action {
        let tokens = tokenize(line, self.dialect.tokenizer());
        let Some(first) = tokens.first() else {
            return error_400(None, line);
        };
        if first.eq_ignore_ascii_case("PING") {
            let mut reply = String::from("PONG");
            for t in &tokens[1..] {
                reply.push(' ');
                reply.push_str(t);
            }
            reply.push_str("\r\n");
            return Action::Immediate(reply);
        }
        let (req_id, rest) = if first.eq_ignore_ascii_case("REQ") {
            match tokens.get(1) {
                None => return Action::Immediate("402  ERROR\r\n".into()),
                Some(id) => (Some(id.clone()), &tokens[2..]),
            }
        } else {
            (None, &tokens[..])
        };
        let Some(word) = rest.first() else {
            return error_400(req_id.as_deref(), line);
        };
        let word = word.to_uppercase();
        if word == "BYE" {
            return Action::Bye;
        }
        if self.dialect.is_v24_or_later()
            && let Some(action) = self.batch_control(&word, req_id.as_deref(), line)
        {
            return action;
        }
        match self.lookup(&word, &rest[1..]) {
            Ok(request) => self.dispatch(req_id, request),
            Err(LookupError::NotFound) => error_400(req_id.as_deref(), line),
            Err(LookupError::BadChannel) => error_v23(req_id.as_deref(), 401, &word),
            Err(LookupError::TooFewParams) => error_v23(req_id.as_deref(), 402, &word),
        }
    }

    fn batch_control(&mut self, word: &str, req_id: Option<&str>, line: &str) -> Option<Action> {
        match word {
            "BEGIN" if self.batch.is_some() => Some(error_400(req_id, line)),
            "BEGIN" => {
                self.batch = Some(Batch {
                    begin_id: req_id.map(str::to_owned),
                    items: Vec::new(),
                });
                Some(Action::Nothing)
            }
            "DISCARD" => Some(match self.batch.take() {
                Some(_) => Action::Nothing,
                None => error_400(req_id, line),
            }),
            "COMMIT" => Some(match self.batch.take() {
                Some(b) => Action::Commit {
                    begin_id: b.begin_id,
                    items: b.items,
                },
                None => error_400(req_id, line),
            }),
            _ => None,
        }
    }

    fn dispatch(&mut self, req_id: Option<String>, mut request: SimRequest) -> Action {
        request.req_id.clone_from(&req_id);
        match &mut self.batch {
            Some(batch) if batch.items.len() < MAX_BATCH => {
                batch.items.push((req_id, request));
                Action::Nothing
            }
            Some(_) => Action::Immediate(with_req(req_id.as_deref(), "504 QUEUE OVERFLOW\r\n")),
            None => Action::Execute { req_id, request },
        }
    }

    fn lookup(&self, word: &str, params: &[String]) -> Result<SimRequest, LookupError> {
        let mut channel_error = None;
        if let Some((channel, layer)) = params.first().and_then(|p| parse_address(p)) {
            match self.find(word, Scope::Channel, &params[1..]) {
                Found::Yes(name, rest) if channel >= 1 && channel <= self.channels => {
                    return Ok(SimRequest {
                        name,
                        channel: u16::try_from(channel).ok(),
                        layer,
                        params: rest.to_vec(),
                        req_id: None,
                    });
                }
                Found::Yes(..) => channel_error = Some(LookupError::BadChannel),
                Found::TooFew => channel_error = Some(LookupError::TooFewParams),
                Found::No => {}
            }
        }
        match self.find(word, Scope::Global, params) {
            Found::Yes(name, rest) => Ok(SimRequest {
                name,
                channel: None,
                layer: None,
                params: rest.to_vec(),
                req_id: None,
            }),
            Found::TooFew if !self.dialect.is_v24_or_later() => Err(LookupError::TooFewParams),
            _ if self.dialect.is_v24_or_later() => Err(LookupError::NotFound),
            _ => Err(channel_error.unwrap_or(LookupError::NotFound)),
        }
    }

    /// Tries `WORD SUB` then `WORD` among the commands of `scope` available in this dialect.
    fn find<'p>(&self, word: &str, scope: Scope, params: &'p [String]) -> Found<'p> {
        let available =
            |e: &&Entry| e.scope == scope && (e.in_v23 || self.dialect.is_v24_or_later());
        if let Some(sub) = params.first() {
            let sub = sub.to_uppercase();
            let hit = REGISTRY.iter().filter(available).find(|e| {
                e.name.len() == word.len() + 1 + sub.len()
                    && e.name.starts_with(word)
                    && e.name.ends_with(sub.as_str())
                    && e.name.as_bytes().get(word.len()) == Some(&b' ')
            });
            if let Some(e) = hit {
                return found(e, &params[1..], self.min_params(e));
            }
        }
        match REGISTRY.iter().filter(available).find(|e| e.name == word) {
            Some(e) => found(e, params, self.min_params(e)),
            None => Found::No,
        }
    }

    fn min_params(&self, e: &Entry) -> usize {
        // 2.4 made `LOAD n-l` without a clip legal (promote the background paused).
        if e.name == "LOAD" && !self.dialect.is_v24_or_later() {
            1
        } else {
            e.min
        }
    }
}

enum Found<'p> {
    Yes(&'static str, &'p [String]),
    TooFew,
    No,
}

fn found<'p>(e: &Entry, params: &'p [String], min: usize) -> Found<'p> {
    if params.len() >= min {
        Found::Yes(e.name, params)
    } else {
        Found::TooFew
    }
}

#[derive(Debug)]
enum LookupError {
    NotFound,
    BadChannel,
    TooFewParams,
}

/// `N` or `N-L` as the server reads it: a channel index ≥ 1 (0 and non-numbers are "not a channel").
/// Returns `None` when the token is not a channel spec at all.
fn parse_address(token: &str) -> Option<(usize, Option<i32>)> {
    let mut parts = token.split('-');
    let channel: i64 = parts.next()?.parse().ok()?;
    let layer = match parts.next() {
        Some(l) => Some(l.parse::<i32>().ok()?),
        None => None,
    };
    if channel < 1 {
        return None;
    }
    Some((usize::try_from(channel).ok()?, layer))
}

fn with_req(req_id: Option<&str>, reply: &str) -> String {
    match req_id {
        Some(id) => format!("RES {id} {reply}"),
        None => reply.to_owned(),
    }
}

fn error_400(req_id: Option<&str>, line: &str) -> Action {
    Action::Immediate(with_req(req_id, &format!("400 ERROR\r\n{line}\r\n")))
}

fn error_v23(req_id: Option<&str>, code: u16, word: &str) -> Action {
    Action::Immediate(with_req(req_id, &format!("{code} {word} ERROR\r\n")))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
