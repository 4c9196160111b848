//! `[[servers]]`: how both forms resolve to a station, what the flag and the environment do with
//! each, printing, and every rule of the list with its exact message.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

/// A main server with its backup, as in docs/configuration.md.
const MAIN_AND_BACKUP: &str = r#"
[[servers]]
name = "main"
address = "caspar-a.studio.lan:5250"
backup = "backup"
ping_interval = "500ms"

[[servers]]
name = "backup"
address = "caspar-b.studio.lan:5250"
"#;

/// The error of loading `text` with only the `[[servers]]` rules in question: the text of
/// [`file_error`], whose validation messages end with where the list came from.
fn list_error(text: &str) -> String {
    let err = file_error(text);
    err.strip_suffix(" (set in FILE)")
        .unwrap_or_else(|| panic!("a validation message with its origin, got {err}"))
        .to_owned()
}

fn entry(name: &str, backup: Option<&str>, address: &str) -> ServerEntry {
    ServerEntry {
        name: name.to_owned(),
        backup: backup.map(str::to_owned),
        link: CasparConfig {
            address: address.to_owned(),
            ..CasparConfig::default()
        },
    }
}

#[test]
fn the_caspar_form_resolves_to_one_server_named_main() {
    let c = load(None, env(&[]), &Overrides::default()).expect("defaults load");
    assert!(c.servers.is_empty());
    let station = c.station();
    assert_eq!(station.main.name, "main");
    assert_eq!(station.main.name, LEGACY_SERVER_NAME);
    assert_eq!(station.main.backup, None);
    assert_eq!(station.main.link, CasparConfig::default());
    assert_eq!(station.backup, None);
    assert!(
        !c.uses_legacy_caspar(),
        "nothing set about the link: nothing to migrate"
    );

    let (result, _) = load_toml("[caspar]\naddress = \"casparcg:5250\"\nping_interval = \"2s\"\n");
    let c = result.expect("a [caspar] file loads");
    let station = c.station();
    assert_eq!(station.main.name, "main");
    assert_eq!(station.main.link, c.caspar);
    assert_eq!(station.main.link.address, "casparcg:5250");
    assert_eq!(station.main.link.ping_interval, Duration::from_secs(2));
    assert_eq!(station.backup, None);
    assert!(c.uses_legacy_caspar());
}

#[test]
fn a_main_and_its_backup_resolve() {
    let (result, _) = load_toml(MAIN_AND_BACKUP);
    let c = result.expect("main and backup load");
    assert!(!c.uses_legacy_caspar());
    assert_eq!(c.caspar, CasparConfig::default(), "[caspar] is not used");
    let station = c.station();
    assert_eq!(station.main.name, "main");
    assert_eq!(station.main.backup.as_deref(), Some("backup"));
    assert_eq!(station.main.link.address, "caspar-a.studio.lan:5250");
    assert_eq!(station.main.link.ping_interval, Duration::from_millis(500));
    assert_eq!(
        station.main.link.command_timeout,
        Duration::from_secs(5),
        "an unset key takes the built-in default"
    );
    let backup = station.backup.expect("a backup");
    assert_eq!(backup.name, "backup");
    assert_eq!(backup.backup, None);
    assert_eq!(
        backup.link,
        CasparConfig {
            address: "caspar-b.studio.lan:5250".to_owned(),
            ..CasparConfig::default()
        },
        "keys are per server: the main's ping_interval is not the backup's"
    );

    // The order of the entries does not matter: the main is the server nobody backs up.
    let (result, _) = load_toml(
        "[[servers]]\nname = \"spare\"\naddress = \"b:1\"\n\
         [[servers]]\nname = \"studio\"\naddress = \"a:1\"\nbackup = \"spare\"\n",
    );
    let station = result.expect("backup listed first loads").station();
    assert_eq!(station.main.name, "studio");
    assert_eq!(station.backup.map(|b| b.name).as_deref(), Some("spare"));

    // A main alone is a station without backup.
    let (result, _) = load_toml("[[servers]]\nname = \"solo\"\naddress = \"a:1\"\n");
    let station = result.expect("a lone main loads").station();
    assert_eq!((station.main.name.as_str(), station.backup), ("solo", None));
}

#[test]
fn caspar_address_from_the_environment_still_works_without_servers() {
    let c = load(
        None,
        env(&[("ONAIR_CASPAR_ADDRESS", "casparcg.studio.lan:5250")]),
        &Overrides::default(),
    )
    .expect("loads");
    assert!(c.servers.is_empty());
    assert_eq!(c.caspar.address, "casparcg.studio.lan:5250");
    assert_eq!(c.station().main.link.address, "casparcg.studio.lan:5250");
    assert!(c.uses_legacy_caspar());
}

#[test]
fn the_caspar_flag_sets_the_main_servers_address_in_either_form() {
    let flags = Overrides {
        caspar: Some(" flag-host:7000 ".to_owned()),
        ..Overrides::default()
    };
    let c = load(None, env(&[]), &flags).expect("loads");
    assert_eq!(c.caspar.address, "flag-host:7000");
    assert_eq!(c.station().main.link.address, "flag-host:7000");

    // The backup is listed first, so the flag must find the main, not take the first entry.
    let file = toml_file(
        "[[servers]]\nname = \"backup\"\naddress = \"b:1\"\n\
         [[servers]]\nname = \"main\"\naddress = \"a:1\"\nbackup = \"backup\"\n",
    );
    let c = load(Some(file.path()), env(&[]), &flags).expect("loads");
    assert_eq!(c.servers[1].link.address, "flag-host:7000");
    assert_eq!(c.servers[0].link.address, "b:1", "the backup is untouched");
    assert_eq!(c.caspar, CasparConfig::default());

    let flags = Overrides {
        caspar: Some("nohost".to_owned()),
        ..Overrides::default()
    };
    let err = load(Some(file.path()), env(&[]), &flags).expect_err("bad --caspar");
    assert_eq!(
        err.to_string(),
        "servers[1].address: \"nohost\" is not HOST:PORT (no port); e.g. 127.0.0.1:5250, casparcg:5250 or [::1]:5250 (set by --caspar)"
    );
}

#[test]
fn servers_round_trip_through_to_toml() {
    let mut main = entry("main", Some("backup"), "[fd00::1]:5250");
    main.link.ping_interval = Duration::from_millis(250);
    main.link.osc_listen = Some("0.0.0.0:6251".parse().expect("address"));
    main.link.media_dir = Some(PathBuf::from("/srv/caspar/media"));
    let config = Config {
        caspar: CasparConfig::default(),
        servers: vec![main, entry("backup", None, "caspar-b:5250")],
        ..everything_changed()
    };
    assert_eq!(config.validate().ok(), Some(()));
    let text = config.to_toml();
    assert!(text.contains("[[servers]]"), "{text}");
    assert!(
        !text.contains("[caspar]"),
        "a file with both would be refused: {text}"
    );
    let file = toml_file(&text);
    let reloaded = load(Some(file.path()), env(&[]), &Overrides::default()).expect("reloads");
    assert_eq!(reloaded, config, "{text}");
    assert_eq!(reloaded.station(), config.station());

    // Without [[servers]] the printed file keeps the [caspar] form, with no empty list.
    let text = Config::default().to_toml();
    assert!(
        text.contains("[caspar]") && !text.contains("servers"),
        "{text}"
    );
}

#[test]
fn rules_of_the_list_name_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[[servers]]\naddress = \"a:1\"\n",
            "servers[0].name: is missing or empty: give every server a name, e.g. name = \"main\"",
        ),
        (
            "[[servers]]\nname = \"\"\n",
            "servers[0].name: is missing or empty: give every server a name, e.g. name = \"main\"",
        ),
        (
            "[[servers]]\nname = \"main server\"\n",
            "servers[0].name: \"main server\" is not a server name: use 1 to 32 letters, digits, '-' or '_', e.g. \"main\" or \"backup-1\"",
        ),
        (
            "[[servers]]\nname = \"abcdefghijklmnopqrstuvwxyz0123456\"\n",
            "servers[0].name: \"abcdefghijklmnopqrstuvwxyz0123456\" is not a server name: use 1 to 32 letters, digits, '-' or '_', e.g. \"main\" or \"backup-1\"",
        ),
        (
            "[[servers]]\nname = \"main\"\naddress = \"a:1\"\n[[servers]]\nname = \"main\"\naddress = \"b:1\"\n",
            "servers[1].name: \"main\" is also the name of servers[0]: every server needs its own name",
        ),
        (
            "[[servers]]\nname = \"main\"\nbackup = \"bakup\"\naddress = \"a:1\"\n\
             [[servers]]\nname = \"backup\"\naddress = \"b:1\"\n",
            "servers[0].backup: no server is named \"bakup\" (did you mean \"backup\"?): name a server of the [[servers]] list",
        ),
        (
            "[[servers]]\nname = \"main\"\nbackup = \"elsewhere\"\n",
            "servers[0].backup: no server is named \"elsewhere\": name a server of the [[servers]] list",
        ),
        (
            "[[servers]]\nname = \"main\"\nbackup = \"main\"\n",
            "servers[0].backup: server \"main\" cannot be its own backup: name another server of the [[servers]] list, or remove this key",
        ),
        (
            "[[servers]]\nname = \"main\"\nbackup = \"b\"\naddress = \"a:1\"\n\
             [[servers]]\nname = \"b\"\nbackup = \"c\"\naddress = \"b:1\"\n\
             [[servers]]\nname = \"c\"\naddress = \"c:1\"\n",
            "servers[1].backup: server \"b\" is the backup of \"main\" (servers[0]), and a backup server has no backup of its own: remove this key",
        ),
        (
            // Two servers naming each other: each is a backup with a backup.
            "[[servers]]\nname = \"a\"\nbackup = \"b\"\naddress = \"a:1\"\n\
             [[servers]]\nname = \"b\"\nbackup = \"a\"\naddress = \"b:1\"\n",
            "servers[1].backup: server \"b\" is the backup of \"a\" (servers[0]), and a backup server has no backup of its own: remove this key",
        ),
        (
            "[[servers]]\nname = \"a\"\nbackup = \"b\"\naddress = \"a:1\"\n\
             [[servers]]\nname = \"b\"\naddress = \"b:1\"\n\
             [[servers]]\nname = \"c\"\nbackup = \"b\"\naddress = \"c:1\"\n",
            "servers[2].backup: server \"b\" is already the backup of \"a\" (servers[0]): a server backs up at most one main; remove this key",
        ),
        (
            "[[servers]]\nname = \"main\"\nbackup = \"backup\"\n[[servers]]\nname = \"backup\"\n",
            "servers[1].address: \"127.0.0.1:5250\" is also the address of \"main\" (servers[0]): a backup must be another CasparCG server (an entry without address uses the default, 127.0.0.1:5250)",
        ),
        (
            "[[servers]]\nname = \"main\"\nbackup = \"backup\"\naddress = \"a:1\"\nosc_listen = \"0.0.0.0:6250\"\n\
             [[servers]]\nname = \"backup\"\naddress = \"b:1\"\nosc_listen = \"127.0.0.1:6250\"\n",
            "servers[1].osc_listen: 127.0.0.1:6250 overlaps the osc_listen of \"main\" (servers[0]): each server needs its own OSC port (or leave osc_listen unset for a free port on each)",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(list_error(text), *want, "{text}");
    }
    // A long list is refused as a whole, before any entry is looked at.
    let long: String = (0..17)
        .map(|i| format!("[[servers]]\nname = \"s{i}\"\naddress = \"host-{i}:5250\"\n"))
        .collect();
    assert_eq!(
        list_error(&long),
        "servers: 17 servers are listed: a station drives at most 16 (mains and backups)"
    );
    // Port 0 picks a free port for each server: no clash.
    let (result, _) = load_toml(
        "[[servers]]\nname = \"main\"\nbackup = \"backup\"\naddress = \"a:1\"\nosc_listen = \"0.0.0.0:0\"\n\
         [[servers]]\nname = \"backup\"\naddress = \"b:1\"\nosc_listen = \"0.0.0.0:0\"\n",
    );
    result.expect("two free OSC ports load");
}

#[test]
fn entry_link_settings_are_checked_like_caspar() {
    assert_eq!(
        list_error("[[servers]]\nname = \"main\"\naddress = \"a:1\"\nbackoff_initial = \"3s\"\n"),
        "servers[0].backoff_initial: must not exceed servers[0].backoff_max (3s > 2s)"
    );
    assert_eq!(
        list_error(
            "[[servers]]\nname = \"main\"\naddress = \"a:1\"\nbackup = \"b\"\n\
             [[servers]]\nname = \"b\"\naddress = \"b:1\"\nmax_in_flight_per_queue = 500\n"
        ),
        "servers[1].max_in_flight_per_queue: must be between 1 and 128, got 500"
    );
    assert_eq!(
        list_error("[[servers]]\nname = \"main\"\naddress = \"::1:5250\"\n"),
        "servers[0].address: \"::1:5250\" is not HOST:PORT (an IPv6 address must be in brackets); e.g. 127.0.0.1:5250, casparcg:5250 or [::1]:5250"
    );
    assert_eq!(
        list_error("[[servers]]\nname = \"main\"\naddress = \"a:1\"\nmedia_dir = \"\"\n"),
        "servers[0].media_dir: must not be empty (leave it unset when the media folder is not on this machine)"
    );
}

#[test]
fn file_shape_errors_name_the_key_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "[caspar]\naddress = \"a:1\"\n\n[[servers]]\nname = \"main\"\n",
            "FILE: line 1: [caspar] and [[servers]] are both set: [caspar] is the older single-server form; move its keys into the main server's [[servers]] entry and remove [caspar]",
        ),
        (
            "[[servers]]\nname = \"main\"\n\n[caspar]\n",
            "FILE: line 4: [caspar] and [[servers]] are both set: [caspar] is the older single-server form; move its keys into the main server's [[servers]] entry and remove [caspar]",
        ),
        (
            "[[servers]]\nname = \"main\"\nadress = \"a:1\"\n",
            "FILE: line 3: unknown key \"servers[0].adress\" (did you mean \"servers[0].address\"?)",
        ),
        (
            "[[servers]]\nname = \"main\"\naddress = \"a:1\"\n[[servers]]\nnmae = \"b\"\n",
            "FILE: line 5: unknown key \"servers[1].nmae\" (did you mean \"servers[1].name\"?)",
        ),
        (
            "[[servers]]\nname = \"main\"\nlisten = \"127.0.0.1:1\"\n",
            "FILE: line 3: unknown key \"servers[0].listen\" (it belongs in [server]: \"server.listen\")",
        ),
        (
            "[[servers]]\nname = \"main\"\ncolour = \"red\"\n",
            "FILE: line 3: unknown key \"servers[0].colour\" (a [[servers]] entry takes name, backup and the [caspar] keys)",
        ),
        (
            "[[servers]]\nname = \"main\"\nping_interval = \"1x\"\n",
            "FILE: line 3: servers[0].ping_interval: invalid duration \"1x\" (expected e.g. 500ms, 1s, 2m)",
        ),
        (
            "[[servers]]\nname = \"main\"\nmax_frame_bytes = -1\n",
            "FILE: line 3: servers[0].max_frame_bytes: invalid value: integer `-1`, expected usize",
        ),
        (
            "[[servers]]\nname = 1\n",
            "FILE: line 2: servers[0].name: must be a server name in quotes, e.g. name = \"main\"",
        ),
        (
            "[[servers]]\nname = \"main\"\nbackup = true\n",
            "FILE: line 3: servers[0].backup: must be a server name in quotes, e.g. backup = \"backup\"",
        ),
        (
            "[servers]\nname = \"main\"\n",
            "FILE: line 1: \"servers\" must be a list of tables: write each server under its own [[servers]] line (two brackets)",
        ),
        (
            "servers = []\n",
            "FILE: line 1: servers: the list is empty: add a [[servers]] entry for the main server, or remove the key to use [caspar]",
        ),
        (
            "servers = [1]\n",
            "FILE: line 1: servers[0]: must be a table: write each server under its own [[servers]] line, with its keys below it",
        ),
        (
            "[[sever]]\nname = \"main\"\n",
            "FILE: line 1: unknown list [[sever]] (did you mean [[servers]]?)",
        ),
        (
            "[[server]]\nname = \"main\"\n",
            "FILE: line 1: \"server\" must be a table: put its keys under a [server] line (CasparCG servers are listed with [[servers]])",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(file_error(text), *want, "{text}");
    }
}

#[test]
fn caspar_variables_with_servers_are_refused() {
    let file = toml_file(MAIN_AND_BACKUP);
    let path = file.path().display().to_string();
    for (var, value) in [
        ("ONAIR_CASPAR_PING_INTERVAL", "1s"),
        // Even one that only unsets a key: it still belongs to the other form.
        ("ONAIR_CASPAR_MEDIA_DIR", ""),
    ] {
        let err = load(
            Some(file.path()),
            env(&[(var, value)]),
            &Overrides::default(),
        )
        .expect_err("[caspar] variables with [[servers]]")
        .to_string()
        .replace(&path, "FILE");
        let key = var
            .strip_prefix("ONAIR_CASPAR_")
            .expect("a caspar variable")
            .to_ascii_lowercase();
        assert_eq!(
            err,
            format!(
                "environment variable {var}: caspar.{key}: [caspar] and [[servers]] are both set ([[servers]] set in FILE): ONAIR_CASPAR_* variables set the older single-server [caspar] form; set {key} in the main server's [[servers]] entry instead, and unset {var}"
            )
        );
    }
    // Other sections' variables are fine with [[servers]].
    let c = load(
        Some(file.path()),
        env(&[("ONAIR_SERVER_MAX_CLIENTS", "5")]),
        &Overrides::default(),
    )
    .expect("loads");
    assert_eq!(c.server.max_clients, 5);
    assert_eq!(
        env_error(&[("ONAIR_SERVERS_MAIN_ADDRESS", "a:1")]),
        "environment variable ONAIR_SERVERS_MAIN_ADDRESS: not a configuration setting: [[servers]] entries are set in the configuration file only"
    );
}

#[test]
fn both_forms_built_in_code_are_refused() {
    let mut config = Config {
        servers: vec![entry("main", None, "a:1")],
        ..Config::default()
    };
    assert_eq!(config.validate().ok(), Some(()));
    config.caspar.address = "b:1".to_owned();
    assert_eq!(
        config.validate().expect_err("both forms").to_string(),
        "caspar: [caspar] and [[servers]] are both set: [caspar] is the older single-server form; move its keys into the main server's [[servers]] entry and remove [caspar]"
    );
}

#[test]
fn station_of_an_invalid_list_does_not_panic() {
    let lists = [
        vec![entry("a", Some("b"), "a:1"), entry("b", Some("a"), "b:1")],
        vec![entry("a", Some("nobody"), "a:1")],
        vec![entry("a", Some("a"), "a:1")],
        vec![entry("", None, "a:1"), entry("", None, "a:1")],
    ];
    for servers in lists {
        let config = Config {
            servers: servers.clone(),
            ..Config::default()
        };
        assert!(config.validate().is_err(), "{servers:?}");
        let station = config.station();
        assert!(servers.contains(&station.main), "{servers:?}");
        assert_ne!(station.backup.as_ref(), Some(&station.main));
    }
}

#[test]
fn several_main_servers_each_with_or_without_a_backup_load_in_file_order() {
    let (result, _) = load_toml(
        "[[servers]]\nname = \"a\"\nbackup = \"a2\"\naddress = \"a:1\"\n\
         [[servers]]\nname = \"a2\"\naddress = \"a:2\"\n\
         [[servers]]\nname = \"b\"\naddress = \"b:1\"\n\
         [[servers]]\nname = \"c\"\nbackup = \"c2\"\naddress = \"c:1\"\n\
         [[servers]]\nname = \"c2\"\naddress = \"c:2\"\n",
    );
    let station = result.expect("several mains load").station();
    assert_eq!(station.main.name, "a");
    assert_eq!(station.backup.map(|b| b.name).as_deref(), Some("a2"));
    let others: Vec<(String, Option<String>)> = station
        .others
        .into_iter()
        .map(|(m, b)| (m.name, b.map(|b| b.name)))
        .collect();
    assert_eq!(
        others,
        vec![
            ("b".to_owned(), None),
            ("c".to_owned(), Some("c2".to_owned()))
        ]
    );
}
