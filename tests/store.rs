//! Store tests: round trip, atomic save with backup, recovery from corrupt files, the empty-overwrite
//! guard, schema and id checks, delete, the state file; the async writer in `store/writer.rs`.

#[path = "store/common.rs"]
mod common;
#[path = "store/writer.rs"]
mod writer;

use std::fs;

use common::{files_with, layer, open, sample};
use onair::playout::model::Limits;
use onair::playout::store::{
    AlarmKind, LoadError, PlaylistState, PlayoutStateFile, Store, StoreError, decode,
};

#[test]
fn fresh_directory_starts_with_an_empty_main_playlist() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, report) = open(dir.path());
    assert!(report.alarms.is_empty(), "{:?}", report.alarms);
    assert_eq!(report.playlists.len(), 1);
    let main = &report.playlists[0];
    assert_eq!((main.id.as_str(), main.name.as_str()), ("main", "main"));
    assert_eq!(main.channel_layer, layer());
    assert!(main.items.is_empty());
    assert!(dir.path().join("playlists/main.json").is_file());
    // Reopening loads it rather than creating another.
    let (_store, report) = open(dir.path());
    assert_eq!(report.playlists.len(), 1);
    assert!(report.alarms.is_empty());
}

#[test]
fn save_and_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let p = sample("news", 25, 7);
    store.save(&p).unwrap();
    let text = fs::read_to_string(store.primary_path("news")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["playlist"]["id"], "news");
    drop(store);
    let (_store, report) = open(dir.path());
    assert!(report.alarms.is_empty(), "{:?}", report.alarms);
    let loaded = report.playlists.iter().find(|q| q.id == "news").unwrap();
    assert_eq!(*loaded, p);
}

#[test]
fn each_save_keeps_the_previous_version_as_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 3, 1)).unwrap();
    store.save(&sample("news", 4, 2)).unwrap();
    let backup = fs::read(store.backup_path("news")).unwrap();
    let limits = Limits::default();
    assert_eq!(decode(&backup, "news", &limits).unwrap().revision, 1);
    let primary = fs::read(store.primary_path("news")).unwrap();
    assert_eq!(decode(&primary, "news", &limits).unwrap().revision, 2);
}

#[test]
fn corrupt_primary_is_kept_aside_and_the_backup_restored() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 3, 1)).unwrap();
    store.save(&sample("news", 4, 2)).unwrap();
    let primary = store.primary_path("news");
    drop(store);
    fs::write(&primary, b"{\"schema\": 1, \"playlist\": {\"id\": \"ne").unwrap();

    let (_store, report) = open(dir.path());
    let loaded = report.playlists.iter().find(|q| q.id == "news").unwrap();
    assert_eq!(*loaded, sample("news", 3, 1));
    let alarm = only_alarm(&report.alarms, "news");
    assert_eq!(alarm.kind, AlarmKind::RecoveredFromBackup);
    assert!(alarm.message.contains("news.json"), "{}", alarm.message);
    assert!(alarm.message.contains("corrupt-"), "{}", alarm.message);

    let corrupt = files_with(dir.path(), "news.json.corrupt-");
    assert_eq!(corrupt.len(), 1);
    assert_eq!(
        fs::read(&corrupt[0]).unwrap(),
        b"{\"schema\": 1, \"playlist\": {\"id\": \"ne"
    );
    // The restored primary is valid again: the next open is quiet.
    let (_store, report) = open(dir.path());
    assert!(report.alarms.is_empty(), "{:?}", report.alarms);
}

#[test]
fn corrupt_files_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 3, 1)).unwrap();
    store.save(&sample("news", 3, 2)).unwrap();
    let primary = store.primary_path("news");
    drop(store);
    for garbage in [&b"first"[..], b"second"] {
        fs::write(&primary, garbage).unwrap();
        let (_store, report) = open(dir.path());
        assert_eq!(report.alarms.len(), 1, "{:?}", report.alarms);
    }
    let mut kept: Vec<Vec<u8>> = files_with(dir.path(), "news.json.corrupt-")
        .iter()
        .map(|p| fs::read(p).unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, vec![b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn both_corrupt_start_empty_with_a_loud_alarm_and_keep_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 3, 1)).unwrap();
    store.save(&sample("news", 4, 2)).unwrap();
    let (primary, backup) = (store.primary_path("news"), store.backup_path("news"));
    drop(store);
    fs::write(&primary, b"not json").unwrap();
    fs::write(&backup, b"{}").unwrap();

    let (_store, report) = open(dir.path());
    let loaded = report.playlists.iter().find(|q| q.id == "news").unwrap();
    assert!(loaded.items.is_empty());
    let alarm = only_alarm(&report.alarms, "news");
    assert_eq!(alarm.kind, AlarmKind::BothUnreadable);
    assert!(alarm.message.contains("STARTS EMPTY"), "{}", alarm.message);
    assert!(
        alarm.message.contains("news.json.backup"),
        "{}",
        alarm.message
    );

    let kept_primary = files_with(dir.path(), "news.json.corrupt-");
    let kept_backup = files_with(dir.path(), "news.json.backup.corrupt-");
    assert_eq!(fs::read(&kept_primary[0]).unwrap(), b"not json");
    assert_eq!(fs::read(&kept_backup[0]).unwrap(), b"{}");
    assert!(
        !backup.exists(),
        "a bad backup must not stay where it could be restored"
    );
    let (_store, report) = open(dir.path());
    assert!(report.alarms.is_empty(), "{:?}", report.alarms);
}

#[test]
fn a_lone_backup_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 3, 1)).unwrap();
    store.save(&sample("news", 3, 2)).unwrap();
    fs::remove_file(store.primary_path("news")).unwrap();
    drop(store);
    let (_store, report) = open(dir.path());
    let loaded = report.playlists.iter().find(|q| q.id == "news").unwrap();
    assert_eq!(loaded.revision, 1);
    assert_eq!(
        only_alarm(&report.alarms, "news").kind,
        AlarmKind::RecoveredFromBackup
    );
}

#[test]
fn replacing_items_with_an_empty_playlist_needs_a_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 5, 1)).unwrap();
    let empty = sample("news", 0, 2);
    match store.save(&empty) {
        Err(StoreError::WouldEmpty { id, items }) => assert_eq!((id.as_str(), items), ("news", 5)),
        other => panic!("expected WouldEmpty, got {other:?}"),
    }
    let on_disk = fs::read(store.primary_path("news")).unwrap();
    assert_eq!(
        decode(&on_disk, "news", &Limits::default())
            .unwrap()
            .items
            .len(),
        5
    );
    store.clear(&empty).unwrap();
    // Saving empty over empty needs nothing special.
    store.save(&sample("news", 0, 3)).unwrap();
}

#[test]
fn a_newer_schema_is_rejected_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let path = store.primary_path("future");
    drop(store);
    let text = br#"{"schema": 2, "playlist": {"id": "future", "name": "x", "channel_layer": "1-10", "shiny": true}}"#;
    fs::write(&path, text).unwrap();

    let err = decode(text, "future", &Limits::default()).unwrap_err();
    assert!(matches!(
        err,
        LoadError::UnsupportedSchema {
            found: 2,
            supported: 1
        }
    ));
    assert!(err.to_string().contains("newer"), "{err}");

    let (store, report) = open(dir.path());
    assert!(report.playlists.iter().all(|p| p.id != "future"));
    let alarm = only_alarm(&report.alarms, "future");
    assert_eq!(alarm.kind, AlarmKind::UnsupportedSchema);
    assert!(alarm.message.contains("future.json"), "{}", alarm.message);
    assert_eq!(fs::read(&path).unwrap(), text);
    // Never overwritten by an older format either.
    let err = store.save(&sample("future", 1, 1)).unwrap_err();
    assert!(matches!(err, StoreError::Load { .. }), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), text);
}

#[test]
fn a_playlist_whose_id_does_not_match_its_file_name_is_rejected() {
    let p = sample("alpha", 2, 1);
    let bytes = onair::playout::store::encode(&p).unwrap();
    let err = decode(&bytes, "beta", &Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::IdMismatch { .. }), "{err:?}");

    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("playlists")).unwrap();
    fs::write(dir.path().join("playlists/beta.json"), &bytes).unwrap();
    let (_store, report) = open(dir.path());
    let alarm = only_alarm(&report.alarms, "beta");
    assert_eq!(alarm.kind, AlarmKind::BothUnreadable);
    assert!(
        alarm.message.contains("does not match"),
        "{}",
        alarm.message
    );
    assert_eq!(files_with(dir.path(), "beta.json.corrupt-").len(), 1);
}

#[test]
fn leftover_temp_files_are_ignored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 2, 1)).unwrap();
    drop(store);
    let playlists = dir.path().join("playlists");
    let temps = [
        playlists.join(".news.json.4242.0.tmp"),
        playlists.join(".other.json.4242.1.tmp"),
        dir.path().join(".state.json.4242.2.tmp"),
    ];
    for t in &temps {
        fs::write(t, b"half a fi").unwrap();
    }
    let (_store, report) = open(dir.path());
    assert!(report.alarms.is_empty(), "{:?}", report.alarms);
    let mut ids: Vec<_> = report.playlists.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["main", "news"]);
    assert!(temps.iter().all(|t| !t.exists()));
}

#[test]
fn oversized_files_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("playlists")).unwrap();
    let path = dir.path().join("playlists/huge.json");
    let f = fs::File::create(&path).unwrap();
    f.set_len(onair::playout::store::MAX_FILE_BYTES + 1)
        .unwrap(); // sparse: costs no disk
    drop(f);
    let (_store, report) = open(dir.path());
    let alarm = only_alarm(&report.alarms, "huge");
    assert!(alarm.message.contains("larger than"), "{}", alarm.message);
}

#[test]
fn saving_over_a_bad_external_edit_keeps_it_aside_and_the_backup_good() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 3, 1)).unwrap();
    store.save(&sample("news", 3, 2)).unwrap();
    fs::write(store.primary_path("news"), b"edited badly").unwrap();
    let outcome = store.save(&sample("news", 3, 3)).unwrap();
    let aside = outcome.set_aside.expect("the bad file is kept");
    assert_eq!(fs::read(aside).unwrap(), b"edited badly");
    // The bad file did not become the backup: it still holds the version the store kept there.
    let backup = fs::read(store.backup_path("news")).unwrap();
    assert_eq!(
        decode(&backup, "news", &Limits::default())
            .unwrap()
            .revision,
        1
    );
}

#[test]
fn delete_keeps_the_file_as_deleted_and_drops_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 3, 1)).unwrap();
    store.save(&sample("news", 3, 2)).unwrap();
    let kept = store.delete("news").unwrap().expect("kept");
    assert!(kept.to_string_lossy().contains("news.json.deleted-"));
    let bytes = fs::read(&kept).unwrap();
    assert_eq!(
        decode(&bytes, "news", &Limits::default()).unwrap().revision,
        2
    );
    assert!(!store.primary_path("news").exists());
    assert!(!store.backup_path("news").exists());
    assert!(matches!(store.delete("news"), Err(StoreError::NotFound(_))));
    drop(store);
    let (_store, report) = open(dir.path());
    assert!(report.playlists.iter().all(|p| p.id != "news"));
    assert!(report.alarms.is_empty());
}

#[test]
fn state_file_round_trip_and_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let (store, report) = open(dir.path());
    assert_eq!(report.state, None);
    let mut state = PlayoutStateFile {
        selected: Some("main".into()),
        ..PlayoutStateFile::default()
    };
    state.playlists.insert(
        "main".into(),
        PlaylistState {
            cursor: Some("i1".into()),
            on_air: Some("i0".into()),
            on_air_since: Some(1_700_000_000_000),
            left_after: None,
            filler_next: Some(3),
            graphics_start_ns: None,
            logo_off: false,
        },
    );
    store.save_state(&state).unwrap();
    let path = store.state_path();
    drop(store);
    let (_store, report) = open(dir.path());
    assert_eq!(report.state, Some(state));

    fs::write(&path, b"{\"schema\":1,\"selected\":").unwrap();
    let (_store, report) = open(dir.path());
    assert_eq!(report.state, None);
    let alarm = only_alarm(&report.alarms, "state");
    assert_eq!(alarm.kind, AlarmKind::StateQuarantined);
    assert!(alarm.message.contains("state.json"), "{}", alarm.message);
    assert!(!path.exists());
    assert_eq!(files_with(dir.path(), "state.json.corrupt-").len(), 1);
}

#[test]
fn invalid_playlists_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let mut p = sample("news", 2, 1);
    let mut twin = (*p.items[1]).clone();
    twin.id = p.items[0].id.clone();
    p.items.set(1, twin.into());
    assert!(matches!(store.save(&p), Err(StoreError::Invalid { .. })));
    let mut p = sample("news", 1, 1);
    p.id = "../escape".into();
    assert!(matches!(store.save(&p), Err(StoreError::Invalid { .. })));
    assert!(!store.primary_path("news").exists());
}

#[test]
fn the_playlist_limit_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_playlists: 2,
        max_items: 100,
    };
    let (store, _) = Store::open(dir.path(), limits, layer()).unwrap(); // main = 1
    store.save(&sample("two", 1, 1)).unwrap();
    let err = store.save(&sample("three", 1, 1)).unwrap_err();
    assert!(
        matches!(err, StoreError::TooManyPlaylists { max: 2 }),
        "{err:?}"
    );
}

fn only_alarm<'a>(
    alarms: &'a [onair::playout::store::StoreAlarm],
    playlist: &str,
) -> &'a onair::playout::store::StoreAlarm {
    let mine: Vec<_> = alarms.iter().filter(|a| a.playlist == playlist).collect();
    assert_eq!(mine.len(), 1, "{alarms:?}");
    mine[0]
}
