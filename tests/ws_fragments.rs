//! Big server messages over real sockets. A snapshot larger than a fragment leaves the server as
//! RFC 6455 fragments (a text frame without FIN, continuations, the last with FIN) of at most
//! 16 KiB, each cut between characters, so that no per-connection write buffer grows to the size
//! of the rundown (issue 14); a tokio-tungstenite client, the console's library, receives it as one
//! whole message, and what follows it is unaffected.

mod ws_rig;

use onair::playout::model::{Item, Playlist};
use onair::protocol::ServerMsg;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_rig::{Client, TIMEOUT, config, start_with};

/// The most payload bytes the server puts in one frame.
const FRAGMENT: usize = 16 * 1024;
const ITEMS: usize = 3000;

/// Titles with 2-, 3- and 4-byte characters, so that fragment boundaries meet characters' middles.
fn title(i: usize) -> String {
    format!("Nachrichten {i} — é € 🎬")
}

fn rundown() -> Playlist {
    let mut main = Playlist::new("main", "Main", "1-10".parse().unwrap());
    for i in 0..ITEMS {
        let mut item = Item::new(format!("item{i:05}"), "CLIP1");
        item.title = Some(title(i));
        main.items.push_back(item.into());
    }
    main
}

/// The titles of `main` in a snapshot message.
fn titles(msg: &ServerMsg) -> Vec<String> {
    let ServerMsg::Snapshot { state, .. } = msg else {
        panic!("a snapshot expected, got {msg:?}")
    };
    state.playlists[0]
        .playlist
        .items
        .iter()
        .map(|i| i.title.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_tungstenite_client_receives_a_fragmented_snapshot_whole() {
    let rig = start_with(config(), rundown()).await;
    let want: Vec<String> = (0..ITEMS).map(title).collect();
    let mut c = Client::connect(&rig, "", &[]).await;
    let ServerMsg::Hello { boot_id, .. } = c.next().await else {
        panic!("hello first")
    };
    assert_eq!(titles(&c.next().await), want);
    // Messages after it arrive as before: an edit's event, then its ack.
    let (ack, before) = c
        .command("a", "item.add", json!({"clip": "CLIP1", "title": "après"}))
        .await;
    assert!(ack.ok, "{ack:?}");
    assert!(before.iter().any(|m| matches!(m, ServerMsg::Event(_))));
    // A second big message on the same connection: a resume from another boot is a snapshot.
    c.send(json!({"type": "resume", "boot_id": format!("not-{boot_id}"), "since": 0}))
        .await;
    let again = titles(&c.next().await);
    assert_eq!(again.len(), ITEMS + 1);
    assert_eq!(again[ITEMS], "après");
    let (ack, _) = c.command("h", "health", json!({})).await;
    assert!(ack.ok);
}

/// One frame from the server (unmasked): FIN, opcode, payload.
async fn frame(stream: &mut TcpStream) -> (bool, u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.expect("frame header");
    let fin = head[0] & 0x80 != 0;
    let opcode = head[0] & 0x0F;
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7F {
        126 => u64::from(stream.read_u16().await.expect("length")),
        127 => stream.read_u64().await.expect("length"),
        n => u64::from(n),
    };
    let mut payload = vec![0; usize::try_from(len).expect("length")];
    stream.read_exact(&mut payload).await.expect("payload");
    (fin, opcode, payload)
}

#[tokio::test]
async fn a_big_snapshot_goes_out_in_fragments_of_at_most_16_kib_cut_between_characters() {
    let rig = start_with(config(), rundown()).await;
    let mut stream = TcpStream::connect(rig.addr).await.expect("connects");
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        rig.addr
    );
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(stream.read_u8().await.expect("response"));
    }
    let response = String::from_utf8(response).expect("text");
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    // RFC 6455 section 1.3's example key and its accept value.
    assert!(
        response
            .to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{response}"
    );
    let read = async {
        let (fin, opcode, hello) = frame(&mut stream).await;
        assert!(fin && opcode == 1, "hello is one small text frame");
        assert!(hello.starts_with(br#"{"type":"hello""#));
        let mut fragments = Vec::new();
        loop {
            let (fin, opcode, payload) = frame(&mut stream).await;
            if opcode == 9 {
                continue; // a ping may come between fragments
            }
            let expected = if fragments.is_empty() { 1 } else { 0 };
            assert_eq!(opcode, expected, "text, then continuations");
            assert!(payload.len() <= FRAGMENT, "a frame of {}", payload.len());
            fragments.push(String::from_utf8(payload).expect("each fragment is whole characters"));
            if fin {
                return fragments;
            }
        }
    };
    let fragments = tokio::time::timeout(TIMEOUT, read)
        .await
        .expect("the snapshot in time");
    let whole: String = fragments.concat();
    assert!(
        fragments.len() >= whole.len() / FRAGMENT,
        "{} fragments for {} bytes",
        fragments.len(),
        whole.len()
    );
    let msg: ServerMsg = serde_json::from_str(&whole).expect("the fragments make one message");
    assert_eq!(titles(&msg), (0..ITEMS).map(title).collect::<Vec<_>>());
}
