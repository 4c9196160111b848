//! `CG`, templates and graphics over real TCP (and OSC over UDP), as a playout daemon would drive
//! them: template data with quotes, backslashes, line breaks and non-ASCII text reaches the
//! simulator's page intact; `CG INFO` is answered like a real 2.2+ server (`400 ERROR`); a missing
//! template is `404 CG ADD FAILED`; `TLS` lists the demo templates and sub-folders; every graphic
//! going on or off (template calls, stills, `STOP`, `CLEAR`, `MIXER … OPACITY`) is in the take log
//! with the frame it became visible on. The clock is stepped, so the frames are exact.

mod common;

use common::{AmcpClient, OscReceiver, sim_config, start};
use onair::amcp::{CgOp, Command};
use onair::sim::{Dialect, Sim, TakeHow, TakeRecord};
use rosc::OscType;

const OK: &str = "202 CG OK\r\n";

/// A `CG` line as onair encodes it (`Command::encode`, the AMCP escaping rules of
/// docs/amcp-notes.md §3), so the data checked is what the daemon would send.
fn cg(op: CgOp) -> String {
    Command::Cg("1-20".parse().expect("address"), op)
        .encode()
        .expect("encodes")
}

async fn sim_and_client() -> (Sim, AmcpClient) {
    let sim = start(sim_config(Dialect::V24, &["1080i5000"])).await;
    let c = AmcpClient::connect(sim.addr()).await;
    (sim, c)
}

/// `(layer, clip, how, frame)` of each take record.
fn graphics(log: &[TakeRecord]) -> Vec<(i32, String, TakeHow, i64)> {
    log.iter()
        .map(|t| (t.layer, t.clip.clone(), t.how, t.frame))
        .collect()
}

#[tokio::test]
async fn template_data_arrives_intact() {
    let (sim, mut c) = sim_and_client().await;
    let data = "{\"name\":\"Zoë \\\"Zed\\\" Ünal\",\n\"path\":\"C:\\\\clips\\\\a.mp4\",\"note\":\"日本語 — ok\"}";
    let line = cg(CgOp::Add {
        cg_layer: 1,
        template: "lower_third".into(),
        play_on_load: true,
        data: Some(data.into()),
    });
    c.exchange(&line, OK).await;
    let pages = sim.templates();
    assert_eq!(pages.len(), 1, "{pages:?}");
    let page = &pages[0];
    assert_eq!(
        (
            page.channel,
            page.layer,
            page.cg_layer,
            page.template.as_str()
        ),
        (0, 20, 1, "lower_third")
    );
    assert!(page.playing);
    assert_eq!(page.data, data, "the data as sent, after AMCP unescaping");
    assert_eq!(page.url, "file:///opt/casparcg/templates/LOWER_THIRD.html");
    // The html producer hands it to the page as `update("…")` without escaping backslashes or line
    // breaks: with a line break in it the real page would get nothing.
    assert_eq!(page.page_data(), None);

    // Data without line breaks or backslashes reaches the page's update() as it was sent.
    let data = "<templateData><data id=\"f0\" value=\"Ünal &amp; «Zed»\"/></templateData>";
    let update = cg(CgOp::Update {
        cg_layer: 1,
        data: data.into(),
    });
    c.exchange(&update, OK).await;
    let page = &sim.templates()[0];
    assert_eq!(page.data, data);
    assert_eq!(page.page_data().as_deref(), Some(data));

    // A DATA file named instead of inline data is read from the store.
    c.exchange(
        r#"DATA STORE guest "{\"n\":\"Åsa\"}""#,
        "202 DATA STORE OK\r\n",
    )
    .await;
    c.exchange("CG 1-20 UPDATE 1 guest", OK).await;
    assert_eq!(sim.templates()[0].data, "{\"n\":\"Åsa\"}");
}

#[tokio::test]
async fn cg_info_missing_templates_and_tls() {
    let (sim, mut c) = sim_and_client().await;
    // Removed from the server in 2.2: the parser knows no `CG INFO`.
    c.exchange("CG 1-20 INFO 1", "400 ERROR\r\nCG 1-20 INFO 1\r\n")
        .await;
    c.exchange("CG 1-20 INFO", "400 ERROR\r\nCG 1-20 INFO\r\n")
        .await;
    c.exchange("CG 1-20 ADD 1 NO_SUCH_TEMPLATE 1", "404 CG ADD FAILED\r\n")
        .await;
    // The server adds `.html` itself.
    c.exchange("CG 1-20 ADD 1 lower_third.html 1", "404 CG ADD FAILED\r\n")
        .await;
    // No page on the layer: STOP fails, PLAY is a silent no-op.
    c.exchange("CG 1-20 STOP 1", "403 CG STOP FAILED\r\n").await;
    c.exchange("CG 1-20 PLAY 1", OK).await;
    assert!(sim.templates().is_empty());
    c.exchange(
        "TLS",
        "200 TLS OK\r\nCLOCK\r\nLOGO_BUG\r\nLOWER_THIRD\r\nTEST\r\nTICKER/NEWS\r\n\r\n",
    )
    .await;
    // Templates in folders are found case-insensitively; INVOKE's result is always empty.
    c.exchange("CG 1-30 ADD 1 ticker/News 1", OK).await;
    c.exchange("CG 1-30 INVOKE 1 \"speed(2)\"", "201 CG OK\r\n\r\n")
        .await;
    let info = c.request("i", "INFO 1").await;
    let xml = info.body_text().unwrap_or_default();
    assert!(
        xml.contains("<path>file:///opt/casparcg/templates/TICKER/NEWS.html</path>")
            && xml.contains("<producer>html</producer>"),
        "{xml}"
    );
}

#[tokio::test]
async fn graphics_on_and_off_are_in_the_take_log_with_their_frames() {
    let (sim, mut c) = sim_and_client().await;
    sim.step(10);
    // Commands after 10 ticks show on frame 11.
    c.exchange("CG 1-20 ADD 1 LOWER_THIRD 0 {}", OK).await;
    c.exchange("CG 1-20 PLAY 1", OK).await;
    c.exchange("PLAY 1-30 LOGO", "202 PLAY OK\r\n").await;
    sim.step(40);
    c.exchange("CG 1-20 STOP 1", OK).await;
    c.exchange("MIXER 1-30 OPACITY 0 25 linear", "202 MIXER OK\r\n")
        .await;
    sim.step(25);
    c.exchange("STOP 1-30", "202 STOP OK\r\n").await;
    c.exchange("LOADBG 1-40 LOGO", "202 LOADBG OK\r\n").await;
    sim.step(5);
    c.exchange("PLAY 1-40", "202 PLAY OK\r\n").await;
    c.exchange("CG 1-20 REMOVE 1", OK).await;
    sim.step(1);
    c.exchange("CLEAR 1-40", "202 CLEAR OK\r\n").await;
    c.exchange("CG 1-20 CLEAR", OK).await;
    let log = sim.take_log();
    let s = |x: &str| x.to_string();
    assert_eq!(
        graphics(&log),
        [
            (20, s("LOWER_THIRD"), TakeHow::CgAdd, 11),
            (20, s("LOWER_THIRD"), TakeHow::CgPlay, 11),
            (30, s("LOGO"), TakeHow::Play, 11),
            (20, s("LOWER_THIRD"), TakeHow::CgStop, 51),
            (30, s("LOGO"), TakeHow::Opacity, 51),
            (30, s("LOGO"), TakeHow::Stop, 76),
            (40, s("LOGO"), TakeHow::Promote, 81),
            (20, s("LOWER_THIRD"), TakeHow::CgRemove, 81),
            (40, s("LOGO"), TakeHow::Clear, 82),
            // The closed page's layer still held the html producer.
            (20, s("html"), TakeHow::Clear, 82),
        ]
    );
    let fade = log[4]
        .opacity
        .expect("an opacity record carries the change");
    assert_eq!((fade.opacity, fade.frames), (0.0, 25));
    assert!(
        log.iter()
            .all(|t| t.how == TakeHow::Opacity || t.opacity.is_none())
    );
}

#[tokio::test]
async fn osc_shows_the_template_layer_as_the_html_producer() {
    let mut rx = OscReceiver::bind().await;
    let mut config = sim_config(Dialect::V24, &["1080i5000"]);
    config.osc_port = rx.port();
    let sim = start(config).await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.exchange("CG 1-20 ADD 1 CLOCK 1", OK).await;
    sim.step(1);
    let d = rx.recv().await;
    let string = |addr: &str| match d.expect(addr).args.as_slice() {
        [OscType::String(s)] => s.clone(),
        other => panic!("{addr}: expected one string, got {other:?}"),
    };
    let l20 = "/channel/1/stage/layer/20";
    assert_eq!(string(&format!("{l20}/foreground/producer")), "html");
    assert_eq!(
        string(&format!("{l20}/foreground/file/path")),
        "file:///opt/casparcg/templates/CLOCK.html"
    );
    assert_eq!(string(&format!("{l20}/background/producer")), "empty");
}
