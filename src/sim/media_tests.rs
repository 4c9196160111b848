//! The virtual library's determinism and ranges, and `from_dir` on a real folder.

use super::*;

#[test]
fn virtual_library_is_deterministic_and_in_range() {
    let a = SimMedia::virtual_library(200);
    assert_eq!(a, SimMedia::virtual_library(200));
    assert_eq!(a.entries.len(), 200);
    let ids: Vec<&str> = a.entries.iter().map(|e| e.id.as_str()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    for id in [
        "CLIP1",
        "CLIP2",
        "SHORT",
        "LOGO",
        "NEWS_OPEN_01",
        "ADS/SPOT_01",
        "MUSIC_VIDEO_19",
    ] {
        assert!(a.find(id).is_some(), "{id}");
    }
    assert_eq!(
        a.entries
            .iter()
            .filter(|e| e.kind == MediaKind::Still)
            .count(),
        1
    );
    let mut rates = std::collections::BTreeSet::new();
    for e in a.entries.iter().filter(|e| {
        e.kind == MediaKind::Movie && !["CLIP1", "CLIP2", "SHORT"].contains(&e.id.as_str())
    }) {
        let secs = e.duration_secs();
        assert!((5.0..=30.0).contains(&secs), "{} is {secs} s", e.id);
        rates.insert(e.timebase);
        assert_eq!(e.mtime.len(), 14);
    }
    assert_eq!(
        rates.into_iter().collect::<Vec<_>>(),
        vec![(1, 25), (1, 50), (1001, 30000)]
    );
    assert_eq!(SimMedia::virtual_library(2).entries.len(), 2);
    assert_eq!(
        SimMedia::virtual_library(0).cls_reply(),
        "200 CLS OK\r\n\r\n"
    );
}

#[test]
fn lookups_and_lines() {
    let lib = SimMedia::virtual_library(5);
    let clip = lib.find("clip1").unwrap();
    assert_eq!(
        clip.cls_line(),
        "\"CLIP1\"  MOVIE  571414 20261123150227 500 1/50\r\n"
    );
    assert_eq!(clip.path, "/opt/casparcg/media/CLIP1.mp4");
    assert_eq!(clip.ticks_at(25, 1), 250);
    assert_eq!(clip.ticks_at(30000, 1001), 300);
    assert_eq!(clip.streams(), vec![(50, 1), (0, 0)]);
    assert_eq!(lib.find("CLIP1.mp4").map(|e| e.id.as_str()), Some("CLIP1"));
    assert!(lib.find("nope").is_none() && lib.find("").is_none());
    assert_eq!(
        lib.find("logo").unwrap().cls_line(),
        format!(
            "\"LOGO\"  STILL  18432 {} 0 0/1\r\n",
            lib.find("logo").unwrap().mtime
        )
    );
    // As the html producer looks: `<name>.html`, case-insensitively; no extension of its own.
    assert_eq!(
        lib.template_url("test").as_deref(),
        Some("file:///opt/casparcg/templates/TEST.html")
    );
    assert_eq!(lib.template_url("test.html"), None);
    assert_eq!(
        lib.cinf_reply("short"),
        "201 CINF OK\r\n\"SHORT\"  MOVIE  26598 20261123150315 100 1/50\r\n"
    );
}

#[test]
fn from_dir_lists_files_with_sidecars() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("Folder/Sub")).unwrap();
    std::fs::write(root.join("amb.mp4"), vec![0u8; 1234]).unwrap();
    std::fs::write(root.join("amb.mp4.json"), r#"{"frames": 268, "fps": "25"}"#).unwrap();
    std::fs::write(root.join("Folder/Sub/ntsc.mov"), b"x").unwrap();
    std::fs::write(
        root.join("Folder/Sub/ntsc.mov.json"),
        r#"{"seconds": 10, "fps": "30000/1001"}"#,
    )
    .unwrap();
    std::fs::write(root.join("Folder/logo.PNG"), b"png").unwrap();
    std::fs::write(root.join("jingle.wav"), b"wav").unwrap();
    std::fs::write(root.join("jingle.wav.duration"), "2.5\n").unwrap();
    std::fs::write(root.join("plain.mxf"), b"").unwrap();
    std::fs::write(root.join("lower-third.html"), b"<html/>").unwrap();
    std::fs::write(root.join("notes.txt"), b"ignored").unwrap();
    std::fs::write(root.join(".hidden.mp4"), b"ignored").unwrap();
    let lib = SimMedia::from_dir(root).unwrap();
    let lines: Vec<String> = lib
        .entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}/{}",
                e.id, e.kind, e.frames, e.timebase.0, e.timebase.1
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            "AMB MOVIE 268 1/25",
            "FOLDER/LOGO STILL 0 0/1",
            "FOLDER/SUB/NTSC MOVIE 300 1001/30000",
            "JINGLE AUDIO 120000 1/48000",
            "PLAIN MOVIE 250 1/25",
        ]
    );
    assert_eq!(lib.templates, vec!["LOWER-THIRD".to_string()]);
    let amb = lib.find("amb").unwrap();
    assert_eq!(amb.size_bytes, 1234);
    assert!(amb.path.ends_with("/amb.mp4") && amb.path.starts_with(&lib.media_root));
    assert!(amb.mtime.starts_with("20") && amb.mtime.len() == 14 && amb.thumb_time.contains('T'));

    std::fs::write(root.join("amb.mp4.json"), r#"{"fps": "25"}"#).unwrap();
    let err = SimMedia::from_dir(root).unwrap_err().to_string();
    assert!(
        err.contains("amb.mp4.json") && err.contains("frames"),
        "{err}"
    );
    let err = SimMedia::from_dir(root.join("missing"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn utc_stamps() {
    use crate::sim::media_dir::utc_stamp;
    assert_eq!(utc_stamp(0, false), "19700101000000");
    assert_eq!(utc_stamp(1_795_100_547, true), "20261119T150227");
    assert_eq!(
        crate::sim::media_dir::parse_fps("29.97"),
        Some((1001, 30000))
    );
    assert_eq!(crate::sim::media_dir::parse_fps("12.5"), Some((2, 25)));
    assert_eq!(crate::sim::media_dir::parse_fps("0"), None);
}

#[test]
fn from_dir_templates_as_the_scanner_lists_and_the_server_opens_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("lower")).unwrap();
    for name in [
        "lower/Third.html",
        "Flash.ft",
        "Both.ft",
        "Both.html",
        "Upper.HTML",
        "short.htm",
    ] {
        std::fs::write(root.join(name), b"<html/>").unwrap();
    }
    let lib = SimMedia::from_dir(root).unwrap();
    // media-scanner 1.4 lists `.html .ft .wt .ct`, lower case only.
    assert_eq!(lib.templates, ["BOTH", "FLASH", "LOWER/THIRD"]);
    assert!(lib.entries.is_empty(), "templates are never media");
    let url = |name: &str| lib.template_url(name);
    let file = |rel: &str| Some(format!("file://{}{rel}", lib.template_root));
    assert_eq!(url("LOWER/third"), file("lower/Third.html"));
    assert_eq!(url("both"), file("Both.html"));
    // Not listed, but the server opens any case of `.html`.
    assert_eq!(url("upper"), file("Upper.HTML"));
    // Only `.html` pages can be added.
    assert_eq!(url("flash"), None);
    assert_eq!(url("short"), None);
}
