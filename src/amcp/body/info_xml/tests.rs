//! Unit tests for the INFO channel XML parser, on documents shaped like the 2.4.3/2.5.0 recordings.

use super::*;

/// Layer 10 after `PLAY 1-10 CLIP1` + `LOADBG 1-10 CLIP2 AUTO` on 2.4.3 (trimmed recording),
/// with 2.5.0's `<direction>` added under the background transition.
const AUTO_PENDING: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<channel>\n   <format>640x360p2500</format>\n   <framerate>25</framerate>\n   <framerate>1</framerate>\n   <mixer>\n      <audio>\n         <volume>279103456</volume>\n         <volume>0</volume>\n      </audio>\n   </mixer>\n   <stage>\n      <layer>\n         <layer_10>\n            <background>\n               <file>\n                  <clip>0</clip>\n                  <clip>0</clip>\n                  <name>CLIP2</name>\n                  <path>/opt/casparcg/media/CLIP2.mp4</path>\n                  <time>0</time>\n                  <time>0</time>\n               </file>\n               <loop>false</loop>\n               <producer>transition</producer>\n               <transition>\n                  <direction>from_left</direction>\n                  <frame>0</frame>\n                  <frame>0</frame>\n                  <producer>ffmpeg</producer>\n                  <type>cut</type>\n               </transition>\n            </background>\n            <foreground>\n               <file>\n                  <clip>0</clip>\n                  <clip>10</clip>\n                  <name>CLIP1</name>\n                  <path>/opt/casparcg/media/CLIP1.mp4</path>\n                  <streams>\n                     <file>\n                        <streams_0>\n                           <fps>50</fps>\n                           <fps>1</fps>\n                        </streams_0>\n                        <streams_1>\n                           <fps>0</fps>\n                           <fps>0</fps>\n                        </streams_1>\n                     </file>\n                  </streams>\n                  <time>0.88</time>\n                  <time>10</time>\n               </file>\n               <frames_left>229</frames_left>\n               <loop>false</loop>\n               <paused>false</paused>\n               <producer>ffmpeg</producer>\n            </foreground>\n         </layer_10>\n      </layer>\n   </stage>\n</channel>\n";

#[test]
fn auto_pending_layer() {
    let state = parse_info_xml(AUTO_PENDING).unwrap();
    assert_eq!(state.format.as_deref(), Some("640x360p2500"));
    assert_eq!(state.framerate, Some((25, 1)));
    assert_eq!(state.layers.keys().copied().collect::<Vec<_>>(), [10]);
    let layer = &state.layers[&10];
    let fg = &layer.foreground;
    assert_eq!(fg.producer, "ffmpeg");
    assert_eq!(fg.file_name.as_deref(), Some("CLIP1"));
    assert_eq!(
        fg.file_path.as_deref(),
        Some("/opt/casparcg/media/CLIP1.mp4")
    );
    assert_eq!(fg.time, Some((0.88, 10.0)));
    assert_eq!(fg.clip, Some((0.0, 10.0)));
    assert_eq!(fg.fps, Some((50, 1)));
    assert_eq!((fg.paused, fg.looping), (Some(false), Some(false)));
    assert_eq!(fg.frames_left, Some(229));
    assert_eq!(fg.transition, None);

    let bg = &layer.background;
    assert_eq!(bg.producer, "transition");
    assert_eq!(bg.file_name.as_deref(), Some("CLIP2"));
    assert_eq!(bg.fps, None);
    assert_eq!(bg.paused, None);
    assert_eq!(
        bg.transition,
        Some(TransitionState {
            producer: Some("ffmpeg".into()),
            kind: Some("cut".into()),
            frame: Some((0, 0)),
        })
    );
}

#[test]
fn channel_without_stage_and_empty_elements() {
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<channel>\n   <framerate>50</framerate>\n   <framerate>1</framerate>\n   <mixer><audio/></mixer>\n</channel>\n";
    let state = parse_info_xml(xml).unwrap();
    assert_eq!(state.format, None);
    assert_eq!(state.framerate, Some((50, 1)));
    assert!(state.layers.is_empty());

    assert_eq!(
        parse_info_xml("<channel/>").unwrap(),
        ChannelState::default()
    );
}

#[test]
fn entities_empty_tags_and_unknown_keys() {
    let xml = "<channel><stage><layer><layer_-5><foreground><file><name/><path>/m/A &amp; B &lt;1&gt; &#233;&#x41;</path></file><producer>route</producer><route><channel>2</channel></route></foreground></layer_-5><other><x>1</x></other></layer></stage><output><port><port_600><consumer>screen</consumer></port_600></port></output></channel>";
    let state = parse_info_xml(xml).unwrap();
    let fg = &state.layers[&-5].foreground;
    assert_eq!(fg.producer, "route");
    assert_eq!(fg.file_name.as_deref(), Some(""));
    assert_eq!(fg.file_path.as_deref(), Some("/m/A & B <1> éA"));
    assert!(state.layers[&-5].background.is_empty());
}

#[test]
fn streams_without_the_quirk_level() {
    let xml = "<channel><stage><layer><layer_1><foreground><file><streams><streams_0><fps>30000</fps><fps>1001</fps></streams_0></streams></file><producer>ffmpeg</producer></foreground></layer_1></layer></stage></channel>";
    let state = parse_info_xml(xml).unwrap();
    assert_eq!(state.layers[&1].foreground.fps, Some((30000, 1001)));
}

#[test]
fn rejects_malformed_documents() {
    for bad in [
        "",
        "   ",
        "not xml",
        "<channel>",
        "<channel><format>x</channel>",
        "</channel>",
        "<channel></channel><channel></channel>",
        "<paths><media-path>/m/</media-path></paths>",
        "<channel><format>&bogus;</format></channel>",
        "<channel><framerate>25</framerate></channel>",
        "<channel><framerate>x</framerate><framerate>1</framerate></channel>",
        "<channel><stage><layer><layer_1><foreground><paused>maybe</paused></foreground></layer_1></layer></stage></channel>",
        "<channel><stage><layer><layer_1><foreground><file><time>1</time></file></foreground></layer_1></layer></stage></channel>",
        "<channel><stage><layer><layer_1><foreground><frames_left>-1</frames_left></foreground></layer_1></layer></stage></channel>",
    ] {
        assert!(parse_info_xml(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn hostile_nesting_stays_linear() {
    let depth = 20_000;
    let mut xml = String::from("<channel>");
    xml.push_str(&"<a>".repeat(depth));
    xml.push_str(&"<b/>".repeat(depth));
    xml.push_str(&"</a>".repeat(depth));
    xml.push_str("</channel>");
    let started = std::time::Instant::now();
    assert!(parse_info_xml(&xml).unwrap().layers.is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
