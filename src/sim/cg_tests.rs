//! `CG` against the model: replies, the html producer's rules (one page per layer, cg-layer
//! ignored), the server's parameter reading, the pages tests read back, `INFO` and `CG INFO`.

use super::*;
use crate::sim::Dialect;
use crate::sim::exec::tests::{run, sim};
use crate::sim::media::SimMedia;
use crate::sim::monitor::info_xml;
use crate::sim::parse::{Action, Parser};

fn st() -> SimState {
    sim(Dialect::V24, "1080i5000")
}

fn only(st: &SimState) -> TemplateInstance {
    let t = st.templates();
    assert_eq!(t.len(), 1, "{t:?}");
    t[0].clone()
}

#[test]
fn cg_commands() {
    let mut st = sim(Dialect::V24, "1080i5000");
    assert_eq!(
        run(&mut st, "CG 1-20 ADD 1 NOPE 1"),
        "404 CG ADD FAILED\r\n"
    );
    for sub in ["STOP", "NEXT", "REMOVE"] {
        assert_eq!(
            run(&mut st, &format!("CG 1-20 {sub} 1")),
            format!("403 CG {sub} FAILED\r\n")
        );
    }
    assert_eq!(
        run(&mut st, "CG 1-20 UPDATE 1 {}"),
        "403 CG UPDATE FAILED\r\n"
    );
    assert_eq!(
        run(&mut st, "CG 1-20 INVOKE 1 go"),
        "403 CG INVOKE FAILED\r\n"
    );
    assert_eq!(run(&mut st, "CG 1-20 PLAY 1"), "202 CG OK\r\n");
    assert_eq!(
        run(&mut st, "CG 1-20 ADD 1 test 1 \"{\\\"a\\\":1}\""),
        "202 CG OK\r\n"
    );
    assert_eq!(st.layer(0, 20).unwrap().foreground.name(), "html");
    assert_eq!(run(&mut st, "CG 1-20 UPDATE 1 <x/>"), "202 CG OK\r\n");
    // A missing DATA file reads as empty data, as the server's `read_file` returns.
    assert_eq!(
        run(&mut st, "CG 1-20 UPDATE 1 MISSINGDATA"),
        "202 CG OK\r\n"
    );
    assert_eq!(run(&mut st, "CG 1-20 INVOKE 1 go"), "201 CG OK\r\n\r\n");
    assert_eq!(run(&mut st, "CG 1-20 STOP 1"), "202 CG OK\r\n");
    assert_eq!(run(&mut st, "CG 1-20 NEXT 1"), "202 CG OK\r\n");
    assert_eq!(run(&mut st, "CG 1-20 REMOVE 1"), "202 CG OK\r\n");
    // The server appends `.html` itself: a name with the extension is not found.
    assert_eq!(
        run(&mut st, "CG 1 ADD 0 TEST.html 0"),
        "404 CG ADD FAILED\r\n"
    );
    assert_eq!(run(&mut st, "CG 1 ADD 0 test 0"), "202 CG OK\r\n");
    assert!(st.layer(0, 9999).is_some(), "CG without a layer uses 9999");
    assert_eq!(run(&mut st, "CG 1-20 CLEAR"), "202 CG OK\r\n");
    assert!(st.layer(0, 20).is_none());
}

#[test]
fn a_new_add_replaces_the_page_and_calls_ignore_the_cg_layer() {
    let mut st = st();
    let ok = "202 CG OK\r\n";
    assert_eq!(
        run(
            &mut st,
            r#"CG 1-20 ADD 1 lower_third 1 "{\"name\":\"Ada\"}""#
        ),
        ok
    );
    let page = only(&st);
    assert_eq!(
        (
            page.channel,
            page.layer,
            page.cg_layer,
            page.template.as_str()
        ),
        (0, 20, 1, "lower_third")
    );
    assert_eq!(page.url, "file:///opt/casparcg/templates/LOWER_THIRD.html");
    assert!(page.playing);
    assert_eq!(page.data, r#"{"name":"Ada"}"#);
    // A second ADD on another cg-layer is a new page: the first is gone.
    assert_eq!(run(&mut st, "CG 1-20 ADD 2 CLOCK 0"), ok);
    let page = only(&st);
    assert_eq!((page.cg_layer, page.template.as_str()), (2, "CLOCK"));
    assert!(!page.playing && page.data.is_empty());
    // The html proxy acts on the page whatever cg-layer a call names.
    assert_eq!(run(&mut st, "CG 1-20 PLAY 7"), ok);
    assert!(only(&st).playing);
    assert_eq!(run(&mut st, "CG 1-20 UPDATE 9 <a>1</a>"), ok);
    assert_eq!(only(&st).data, "<a>1</a>");
    assert_eq!(run(&mut st, "CG 1-20 STOP 3"), ok);
    assert!(!only(&st).playing);
    // Another layer has its own page.
    assert_eq!(run(&mut st, "CG 1-30 ADD 1 ticker/news 1"), ok);
    let pages: Vec<(i32, String)> = st
        .templates()
        .into_iter()
        .map(|t| (t.layer, t.template))
        .collect();
    assert_eq!(
        pages,
        [(20, "CLOCK".to_string()), (30, "ticker/news".to_string())]
    );
}

#[test]
fn add_replaces_a_clip_and_drops_its_background_and_auto() {
    let mut st = st();
    run(&mut st, "PLAY 1-20 CLIP1");
    run(&mut st, "LOADBG 1-20 CLIP2 AUTO");
    run(&mut st, "PAUSE 1-20");
    assert_eq!(run(&mut st, "CG 1-20 ADD 1 LOGO_BUG 1"), "202 CG OK\r\n");
    let layer = st.layer(0, 20).unwrap();
    assert_eq!(layer.foreground.name(), "html");
    assert!(layer.background.is_none() && layer.auto_delta.is_none() && !layer.paused);
    // A clip played over the page replaces it.
    run(&mut st, "PLAY 1-20 CLIP1");
    assert!(st.templates().is_empty());
}

#[test]
fn parameters_are_read_as_the_server_reads_them() {
    let mut st = st();
    let cases = [
        // `std::stoi`: no digits is invalid_argument (501), beyond int out_of_range (402).
        ("CG 1-20 ADD x TEST 1", "501 CG ADD FAILED\r\n"),
        ("CG 1-20 ADD 99999999999 TEST 1", "402 CG ADD FAILED\r\n"),
        ("CG 1-20 STOP x", "501 CG STOP FAILED\r\n"),
        ("CG 1-20 PLAY -", "501 CG PLAY FAILED\r\n"),
        // An empty play flag or data is `at(0)` on an empty string: out_of_range.
        (r#"CG 1-20 ADD 1 TEST """#, "402 CG ADD FAILED\r\n"),
        (r#"CG 1-20 ADD 1 TEST 1 """#, "402 CG ADD FAILED\r\n"),
        (r#"CG 1-20 UPDATE 1 """#, "402 CG UPDATE FAILED\r\n"),
        // A label needs the play flag after it.
        ("CG 1-20 ADD 1 TEST intro", "402 CG ADD FAILED\r\n"),
        // Parameter errors come before the missing host.
        ("CG 1-20 UPDATE y {}", "501 CG UPDATE FAILED\r\n"),
    ];
    for (line, reply) in cases {
        assert_eq!(run(&mut st, line), reply, "{line}");
    }
    assert!(st.templates().is_empty());
    // `stoi` stops at the first non-digit: `2x` is cg-layer 2.
    assert_eq!(run(&mut st, "CG 1-20 ADD 2x TEST 1"), "202 CG OK\r\n");
    assert_eq!(only(&st).cg_layer, 2);
    // With a label the flag and the data move one place on.
    assert_eq!(
        run(&mut st, "CG 1-20 ADD 1 TEST intro 1 <d/>"),
        "202 CG OK\r\n"
    );
    let page = only(&st);
    assert!(page.playing);
    assert_eq!(page.data, "<d/>");
    // Any flag not starting with 1 loads without playing.
    assert_eq!(run(&mut st, "CG 1-20 ADD 1 TEST 0"), "202 CG OK\r\n");
    assert!(!only(&st).playing);
}

#[test]
fn data_files_and_missing_templates() {
    let mut st = st();
    run(&mut st, r#"DATA STORE show/Guest "{\"n\":1}""#);
    // ADD finds a DATA file case-insensitively, UPDATE only by its exact name.
    assert_eq!(
        run(&mut st, "CG 1-20 ADD 1 TEST 1 SHOW/GUEST"),
        "202 CG OK\r\n"
    );
    assert_eq!(only(&st).data, r#"{"n":1}"#);
    assert_eq!(run(&mut st, "CG 1-20 UPDATE 1 SHOW/GUEST"), "202 CG OK\r\n");
    assert_eq!(only(&st).data, "");
    assert_eq!(run(&mut st, "CG 1-20 UPDATE 1 show/Guest"), "202 CG OK\r\n");
    assert_eq!(only(&st).data, r#"{"n":1}"#);
    // A missing DATA file on ADD is no data, not an error.
    assert_eq!(run(&mut st, "CG 1-20 ADD 1 TEST 1 NOPE"), "202 CG OK\r\n");
    assert_eq!(only(&st).data, "");
    // A missing template: 404, the page stays, but the layer looked at exists.
    assert_eq!(
        run(&mut st, "CG 1-20 ADD 1 NO_SUCH 1"),
        "404 CG ADD FAILED\r\n"
    );
    assert_eq!(only(&st).template, "TEST");
    assert_eq!(
        run(&mut st, "CG 1-40 ADD 1 NO_SUCH 1"),
        "404 CG ADD FAILED\r\n"
    );
    assert!(st.layer(0, 40).is_some_and(|l| l.foreground.is_empty()));
    // An http(s) URL is opened as it is.
    let url = "https://graphics.example/lower.html?theme=dark";
    assert_eq!(
        run(&mut st, &format!("CG 1-50 ADD 1 \"{url}\" 1")),
        "202 CG OK\r\n"
    );
    assert_eq!(st.templates()[1].url, url);
}

#[test]
fn remove_closes_the_page_and_info_shows_the_html_producer() {
    let mut st = st();
    run(&mut st, "CG 1-20 ADD 1 LOWER_THIRD 1");
    let xml = info_xml(&st, 0);
    let layer = "         <layer_20>\n            <background>\n               \
                 <producer>empty</producer>\n            </background>\n            \
                 <foreground>\n               <file>\n                  \
                 <path>file:///opt/casparcg/templates/LOWER_THIRD.html</path>\n               \
                 </file>\n               <paused>false</paused>\n               \
                 <producer>html</producer>\n            </foreground>\n         </layer_20>\n";
    assert!(xml.contains(layer), "{xml}");
    assert_eq!(run(&mut st, "CG 1-20 REMOVE 1"), "202 CG OK\r\n");
    assert!(st.templates().is_empty());
    // The producer stays, publishing nothing of its own; calls reach a closed page.
    let xml = info_xml(&st, 0);
    assert!(xml.contains("<producer>html</producer>") && !xml.contains("<path>"));
    assert_eq!(run(&mut st, "CG 1-20 PLAY 1"), "202 CG OK\r\n");
    assert_eq!(run(&mut st, "CG 1-20 STOP 1"), "202 CG OK\r\n");
    assert_eq!(run(&mut st, "CG 1-20 INVOKE 1 f"), "201 CG OK\r\n\r\n");
    assert!(st.templates().is_empty());
}

#[test]
fn cg_info_is_no_command_since_2_2() {
    for dialect in [Dialect::V23, Dialect::V24, Dialect::V25] {
        let mut p = Parser::new(dialect, 1);
        for line in ["CG 1-20 INFO 1", "CG 1-20 INFO", "CG 1 INFO"] {
            assert_eq!(
                p.line(line),
                Action::Immediate(format!("400 ERROR\r\n{line}\r\n")),
                "{dialect:?}"
            );
        }
    }
}

#[test]
fn the_library_lists_and_finds_templates_in_folders() {
    let lib = SimMedia::virtual_library(20);
    assert_eq!(
        lib.tls_reply(),
        "200 TLS OK\r\nCLOCK\r\nLOGO_BUG\r\nLOWER_THIRD\r\nTEST\r\nTICKER/NEWS\r\n\r\n"
    );
    // The recording's library stays as recorded.
    assert_eq!(
        SimMedia::virtual_library(3).tls_reply(),
        "200 TLS OK\r\nTEST\r\n\r\n"
    );
    let url = Some("file:///opt/casparcg/templates/TICKER/NEWS.html".to_string());
    assert_eq!(lib.template_url("ticker/news"), url);
    assert_eq!(lib.template_url("Ticker\\News"), url);
    assert_eq!(lib.template_url("NEWS"), None);
    assert_eq!(lib.template_url("ticker/news.html"), None);
}

#[test]
fn the_page_gets_what_the_html_producer_hands_it() {
    let page = |data: &str| {
        let t = TemplateInstance {
            channel: 0,
            layer: 20,
            cg_layer: 1,
            template: "T".into(),
            url: String::new(),
            playing: true,
            data: data.into(),
        };
        (t.update_call(), t.page_data())
    };
    let (call, got) = page(r#"{"name":"Zoë Ünal"}"#);
    assert_eq!(call, r#"update("{\"name\":\"Zoë Ünal\"}")"#);
    assert_eq!(got.as_deref(), Some(r#"{"name":"Zoë Ünal"}"#));
    // An escaped quote inside JSON becomes `\\"`, which ends the JavaScript string early.
    let (call, got) = page(r#"{"q":"say \"hi\""}"#);
    assert_eq!(call, r#"update("{\"q\":\"say \\"hi\\"\"}")"#);
    assert_eq!(got, None);
    // Spaces and quotes at the ends are trimmed.
    assert_eq!(page(r#" "quoted" "#).1.as_deref(), Some("quoted"));
    // Backslashes are not escaped: JavaScript reads them as escapes.
    assert_eq!(
        page(r"a\tb\\c\u00e9\x41\q").1.as_deref(),
        Some("a\tb\\céAq")
    );
    assert_eq!(page(r"\ud83d\ude00").1.as_deref(), Some("😀"));
    // A raw line break, a trailing backslash or a bad escape is a syntax error: nothing arrives.
    for bad in ["line1\nline2", "ends\\", r"\x4", r"\u12", "cr\r"] {
        assert_eq!(page(bad).1, None, "{bad:?}");
    }
    // An escaped line break is a line continuation.
    assert_eq!(page("a\\\nb").1.as_deref(), Some("ab"));
    assert_eq!(page("").0, r#"update("")"#);
    assert_eq!(page("").1.as_deref(), Some(""));
}
