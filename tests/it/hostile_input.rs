//! Issue 15: hostile and broken settings and arguments stay bounded and honest.

use crate::support::{Backend, Workspace, fixtures};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Case 5: the config, the mapping and the master key were read whole: `/dev/zero` grew memory
/// without end and a FIFO blocked for ever. Each is now refused with what is wrong.
#[cfg(unix)]
#[test]
fn settings_that_are_not_small_regular_files_are_refused() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let file = fixtures().join("reference/day1.win1252.csv");
    let f = file.to_str().unwrap();
    let fifo = ws.path().join("mapping.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--config", "/dev/zero", "ingest", f, "--tenant", "acme"], "not a regular file"),
        (vec!["ingest", f, "--tenant", "acme", "--mapping", "/dev/zero"], "not a regular file"),
        (vec!["ingest", f, "--tenant", "acme", "--mapping", fifo.to_str().unwrap()], "not a regular file"),
        (vec!["mapping", "check", fifo.to_str().unwrap()], "not a regular file"),
    ];
    for (args, want) in cases {
        let out = ws.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    // A master key file of the wrong kind, and a huge one.
    let key = ws.path().join("data/master.key");
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &key).unwrap();
    let out = ws.run(&["ingest", f, "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("master.key") && stderr(&out).contains("not a regular file"), "{}", stderr(&out));
}

/// Case 15: a master key that group or others may read was used silently.
#[cfg(unix)]
#[test]
fn a_master_key_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let key = ws.path().join("data/master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = fixtures().join("reference/day1.win1252.csv");
    let out = ws.run(&["ingest", file.to_str().unwrap(), "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("readable or writable by group or others (mode 0644)") && err.contains("chmod 600"), "{err}");
    assert!(!ws.path().join("data/hrfeed.db").exists(), "nothing ran");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(ws.run(&["ingest", file.to_str().unwrap(), "--tenant", "acme"]).status.code(), Some(0));
}

/// Case 16: a directory or FIFO given as FILE was reported as "no such file".
#[cfg(unix)]
#[test]
fn a_directory_or_fifo_as_the_file_says_what_it_is() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let fifo = ws.path().join("export.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (path, want) in [(ws.path().join("data"), "is a directory"), (fifo, "is not a regular file")] {
        let out = ws.run(&["ingest", path.to_str().unwrap(), "--tenant", "acme"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(want), "{}", stderr(&out));
    }
}

/// Case 12: escape sequences and bidi overrides from a file reached the operator's terminal
/// (header and file names in the text report and `runs list`, cell values in `employees show`).
#[test]
fn terminal_control_from_a_file_is_shown_not_obeyed() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let (header, rows) = crate::support::reference_day1();
    let first = header.iter().position(|c| c == "Förnamn").unwrap();
    let mut header = header.clone();
    header.push_field("Notes\u{1b}[2J\u{202e}");
    let rows: Vec<csv::StringRecord> = rows[..5]
        .iter()
        .map(|r| {
            let mut r = crate::support::with(r, first, "Åsa\u{1b}]0;owned\u{7}");
            r.push_field("x");
            r
        })
        .collect();
    let path = ws.path().join("esc\u{1b}[31m.csv");
    crate::support::write_csv(&path, &header, &rows);
    let raw = |o: &std::process::Output| {
        let all = [o.stdout.as_slice(), o.stderr.as_slice()].concat();
        all.contains(&0x1b) || String::from_utf8_lossy(&all).contains('\u{202e}')
    };
    let out = ws.run(&["ingest", path.to_str().unwrap(), "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!raw(&out), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Notes\\u{1b}[2J\\u{202e}"));
    let id = rows[0][0].to_owned();
    for args in [vec!["runs", "list"], vec!["employees", "show", "--tenant", "acme", &id]] {
        let out = ws.run(&args);
        assert!(out.status.success() && !raw(&out), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
    }
    // JSON stays JSON: serde escapes the control characters, and the value reads back whole.
    let out = ws.run(&["employees", "show", "--tenant", "acme", &id, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fields"]["first_name"], "Åsa\u{1b}]0;owned\u{7}");
}
