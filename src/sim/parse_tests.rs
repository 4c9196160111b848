//! Parser tests: the recorded 2.4.3 edge cases and the 2.3 error dialect.

use super::*;

fn p24() -> Parser {
    Parser::new(Dialect::V24, 1)
}

fn imm(a: Action) -> String {
    match a {
        Action::Immediate(s) => s,
        other => panic!("expected an immediate reply, got {other:?}"),
    }
}

fn exec(a: Action) -> (Option<String>, SimRequest) {
    match a {
        Action::Execute { req_id, request } => (req_id, request),
        other => panic!("expected a command, got {other:?}"),
    }
}

#[test]
fn recorded_parser_replies() {
    let mut p = p24();
    assert_eq!(imm(p.line("FOO")), "400 ERROR\r\nFOO\r\n");
    assert_eq!(
        imm(p.line("PLAY 9-10 CLIP1")),
        "400 ERROR\r\nPLAY 9-10 CLIP1\r\n"
    );
    assert_eq!(imm(p.line("")), "400 ERROR\r\n\r\n");
    assert_eq!(imm(p.line("VERSION\n")), "400 ERROR\r\nVERSION\n\r\n");
    assert_eq!(imm(p.line("PING")), "PONG\r\n");
    assert_eq!(imm(p.line("ping hello 123")), "PONG hello 123\r\n");
    assert_eq!(imm(p.line("REQ")), "402  ERROR\r\n");
    assert_eq!(imm(p.line("REQ x9")), "RES x9 400 ERROR\r\nREQ x9\r\n");
    assert_eq!(
        imm(p.line("REQ a3 FOO")),
        "RES a3 400 ERROR\r\nREQ a3 FOO\r\n"
    );
    assert_eq!(imm(p.line("PLAY")), "400 ERROR\r\nPLAY\r\n");
    assert_eq!(
        imm(p.line("REQ x PING")),
        "RES x 400 ERROR\r\nREQ x PING\r\n"
    );
    assert_eq!(
        imm(p.line("MIXER 1-10 FOO")),
        "400 ERROR\r\nMIXER 1-10 FOO\r\n"
    );
    assert_eq!(imm(p.line("LOADBG 1-10")), "400 ERROR\r\nLOADBG 1-10\r\n");
    assert_eq!(p.line("BYE"), Action::Bye);
}

#[test]
fn lookup_and_addresses() {
    let mut p = p24();
    let (id, r) = exec(p.line("REQ c1 PLAY 1-10 \"AMB\" LOOP MIX 25 EASEINSINE"));
    assert_eq!(id.as_deref(), Some("c1"));
    assert_eq!((r.name, r.channel, r.layer), ("PLAY", Some(1), Some(10)));
    assert_eq!(r.params, ["AMB", "LOOP", "MIX", "25", "EASEINSINE"]);
    let (_, r) = exec(p.line("PLAY 1"));
    assert_eq!((r.name, r.channel, r.layer), ("PLAY", Some(1), None));
    // A missing channel falls back to the global INFO, as recorded (`INFO 2`, `INFO 0`).
    for line in ["INFO 2", "INFO 0", "INFO FOO", "INFO"] {
        let (_, r) = exec(p.line(line));
        assert_eq!((r.name, r.channel), ("INFO", None), "{line}");
    }
    let (_, r) = exec(p.line("INFO 1-10"));
    assert_eq!((r.name, r.channel, r.layer), ("INFO", Some(1), Some(10)));
    let (_, r) = exec(p.line("info paths"));
    assert_eq!(r.name, "INFO PATHS");
    let (_, r) = exec(p.line("mixer 1-10 opacity 0.5"));
    assert_eq!(
        (r.name, r.params.as_slice()),
        ("MIXER OPACITY", ["0.5".to_string()].as_slice())
    );
    let (_, r) = exec(p.line("CALL 1-10 SEEK 100"));
    assert_eq!((r.name, r.params.len()), ("CALL", 2));
    let (_, r) = exec(p.line("CG 1-20 ADD 1 \"lower third\" 1"));
    assert_eq!((r.name, r.layer), ("CG ADD", Some(20)));
    let (_, r) = exec(p.line("VERSION 1"));
    assert_eq!(r.name, "VERSION");
    let (_, r) = exec(p.line("CLEAR ALL"));
    assert_eq!(r.name, "CLEAR ALL");
    let (_, r) = exec(p.line("OSC SUBSCRIBE 6251"));
    assert_eq!(
        (r.name, r.params.as_slice()),
        ("OSC SUBSCRIBE", ["6251".to_string()].as_slice())
    );
}

#[test]
fn batches() {
    let mut p = p24();
    assert_eq!(imm(p.line("COMMIT")), "400 ERROR\r\nCOMMIT\r\n");
    assert_eq!(imm(p.line("DISCARD")), "400 ERROR\r\nDISCARD\r\n");
    assert_eq!(p.line("REQ b1 BEGIN"), Action::Nothing);
    assert_eq!(imm(p.line("BEGIN")), "400 ERROR\r\nBEGIN\r\n");
    assert_eq!(p.line("REQ b2 STOP 1-20"), Action::Nothing);
    assert_eq!(imm(p.line("FOO")), "400 ERROR\r\nFOO\r\n");
    assert_eq!(p.line("PLAY 1-20 SHORT"), Action::Nothing);
    match p.line("REQ b3 COMMIT") {
        Action::Commit { begin_id, items } => {
            assert_eq!(begin_id.as_deref(), Some("b1"));
            assert_eq!(items.len(), 2);
            assert_eq!(items[0].0.as_deref(), Some("b2"));
            assert_eq!(items[1].0, None);
        }
        other => panic!("expected a commit, got {other:?}"),
    }
    assert_eq!(p.line("BEGIN"), Action::Nothing);
    assert_eq!(p.line("PLAY 1-10 X"), Action::Nothing);
    assert_eq!(p.line("DISCARD"), Action::Nothing);
    assert!(matches!(p.line("PLAY 1-10 X"), Action::Execute { .. }));
}

#[test]
fn v23_error_dialect() {
    let mut p = Parser::new(Dialect::V23, 1);
    assert_eq!(imm(p.line("PLAY 9-10 CLIP1")), "401 PLAY ERROR\r\n");
    assert_eq!(
        imm(p.line("REQ c3 LOADBG 1-10")),
        "RES c3 402 LOADBG ERROR\r\n"
    );
    assert_eq!(imm(p.line("LOAD 1-10")), "402 LOAD ERROR\r\n");
    assert_eq!(imm(p.line("BEGIN")), "400 ERROR\r\nBEGIN\r\n");
    assert_eq!(imm(p.line("CLEAR ALL")), "400 ERROR\r\nCLEAR ALL\r\n");
    assert_eq!(
        imm(p.line("CALLBG 1-10 LOOP")),
        "400 ERROR\r\nCALLBG 1-10 LOOP\r\n"
    );
    assert_eq!(
        imm(p.line("OSC SUBSCRIBE 6251")),
        "400 ERROR\r\nOSC SUBSCRIBE 6251\r\n"
    );
    let (_, r) = exec(p.line("INFO 2"));
    assert_eq!((r.name, r.channel), ("INFO", None));
}

#[test]
fn arbitrary_lines_never_panic() {
    let mut p = p24();
    for line in [
        "\"\"",
        "REQ \"\"",
        "PLAY -1",
        "PLAY 1-",
        "PLAY 99999999999999999999",
        "CG",
        "(",
        "REQ a (b c",
    ] {
        let _ = p.line(line);
    }
}
