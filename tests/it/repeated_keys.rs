//! A key that occurs more than once in a file: every one of its rows is rejected and the person
//! stays as they were, whatever its first row had become (changed, unchanged, ended, new,
//! rejected) — on both backends, in a dry run too.

use crate::support::{Backend, Workspace, counts, reference_day1, with, write_csv};

const KEY: usize = 0; // Anst.nr
const EMAIL: usize = 4; // E-post
const TITLE: usize = 9; // Befattning
const END: usize = 12; // Slutdatum

fn employee(ws: &Workspace, key: &str) -> Option<serde_json::Value> {
    let out = ws.run(&["employees", "show", "--tenant", "acme", key, "--json"]);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn table(ws: &Workspace, name: &str) -> i64 {
    ws.table_counts().into_iter().find(|(t, _)| t == name).unwrap().1
}

fn repeated_keys(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, all) = reference_day1();
    // The whole export: the repeats come more than one validator chunk (2048 rows) after their first rows.
    let day1 = all;
    let n = day1.len();
    let day1_path = ws.path().join("day1.csv");
    write_csv(&day1_path, &header, &day1);
    let (code, r1) = ws.ingest(&day1_path, &[]);
    assert_eq!((code, r1["counts"]["new"].as_u64()), (0, Some(n as u64)), "{r1}");
    let key = |i: usize| day1[i][KEY].to_owned();
    let before: Vec<_> = (0..20).map(|i| employee(&ws, &key(i)).unwrap()).collect();
    let (history1, deletions1, keys1) = (table(&ws, "history"), table(&ws, "deletions"), table(&ws, "data_keys"));

    // Day 2: all but the last person, then repeats of keys whose first row became something else.
    let mut day2: Vec<_> = day1[..n - 1].to_vec();
    day2[1] = with(&day1[1], TITLE, "Projektledare"); // changed, then repeated unchanged
    // Unchanged but written another way (new cells), then repeated: its new cells print is not kept.
    day2[2] = with(&day1[2], EMAIL, &day1[2][EMAIL].to_uppercase());
    day2[4] = with(&day1[4], EMAIL, "not-an-email"); // rejected, then repeated valid
    day2[5] = with(&day1[5], END, "2026-12-31"); // ended, then repeated
    // day1[6]: three rows
    day2[7] = with(&day1[7], TITLE, "Projektledare"); // an ordinary change, not repeated
    assert_eq!(&day1[18][END], "2026-08-31", "the reference export changed");
    day2[18] = with(&day1[18], END, "2026-09-30"); // a pending deletion moved, then repeated
    let new_person = with(&day1[3], KEY, "009001");
    day2.extend([
        day1[1].clone(),
        day1[2].clone(),
        new_person.clone(),
        with(&new_person, TITLE, "Projektledare"),
        day1[4].clone(),
        day1[5].clone(),
        day1[6].clone(),
        day1[6].clone(),
        day1[18].clone(),
    ]);
    let day2_path = ws.path().join("day2.csv");
    write_csv(&day2_path, &header, &day2);

    let (dry_code, dry) = ws.ingest(&day2_path, &["--dry-run"]);
    let (code, r2) = ws.ingest(&day2_path, &[]);
    assert_eq!(r2["status"], "applied", "{r2}");
    assert_eq!(code, 3);
    let missing = u64::from(day1[n - 1][END].is_empty());
    let rows = (n - 1 + 9) as u64;
    let want: Vec<(String, u64)> = [
        ("rows", rows),
        ("new", 0),
        ("changed", 1),
        ("unchanged", rows - 15 - 1),
        ("ended", 0),
        ("rehired", 0),
        ("missing", missing),
        ("rejected", 15),
    ]
    .iter()
    .map(|(k, n)| ((*k).to_owned(), *n))
    .collect();
    assert_eq!(counts(&r2), want, "{r2}");
    assert_eq!(r2["changed_fields"], serde_json::json!({"job_title": 1}), "{r2}");
    assert_eq!((dry_code, counts(&dry), &dry["changed_fields"]), (3, want.clone(), &r2["changed_fields"]));
    assert_eq!(dry["rejections"], r2["rejections"]);

    // Every row of a repeated key is named, the first ones too; the invalid first row keeps its own error.
    let mut dup_rows: Vec<u64> = r2["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rule"] == "duplicate_key")
        .map(|r| {
            assert_eq!((&r["field"], &r["column"]), (&serde_json::json!("employee_id"), &serde_json::json!("Anst.nr")));
            r["row"].as_u64().unwrap()
        })
        .collect();
    dup_rows.sort_unstable();
    let mut want_rows = vec![2, 3, 5, 6, 7, 19];
    want_rows.extend(n as u64..n as u64 + 9);
    assert_eq!(dup_rows, want_rows, "{r2}");
    assert!(r2["rejections"].as_array().unwrap().iter().any(|r| r["row"] == 5 && r["field"] == "email"), "{r2}");

    // The repeated people are as before the run, the ordinary change is applied, the new key is absent.
    for i in [1, 2, 4, 5, 6, 18] {
        assert_eq!(employee(&ws, &key(i)).unwrap(), before[i], "person {i} changed");
    }
    assert_eq!(employee(&ws, &key(7)).unwrap()["fields"]["job_title"], "Projektledare");
    assert!(employee(&ws, "009001").is_none(), "a repeated new key was added");
    // History: the change and the missing person only; no deletion scheduled for the repeated
    // ended row; the quarantine holds all 13 rows; the new key's data key is gone again.
    assert_eq!(table(&ws, "history"), history1 + 1 + missing as i64);
    assert_eq!(table(&ws, "deletions"), deletions1, "the moved deletion was not put back");
    assert_eq!(table(&ws, "quarantine"), 15);
    assert_eq!(table(&ws, "data_keys"), keys1 + 1, "only the run's quarantine key is new");

    // The register as it now stands, in another order: the quick cells check knows every row,
    // so each repeated person's cells print is the one stored before the run.
    let mut state: Vec<_> = (0..n - 1).map(|i| if i == 7 { day2[7].clone() } else { day1[i].clone() }).collect();
    state.reverse();
    let state_path = ws.path().join("state.csv");
    write_csv(&state_path, &header, &state);
    let (_, r3, quick) = ws.ingest_logged(&state_path, &["--dry-run"]);
    assert_eq!((r3["counts"]["unchanged"].as_u64(), quick), (Some(n as u64 - 1), n as u64 - 1), "{r3}");
}

#[test]
fn sqlite_every_row_of_a_repeated_key_is_rejected() {
    repeated_keys(Backend::Sqlite);
}

#[test]
fn postgres_every_row_of_a_repeated_key_is_rejected() {
    repeated_keys(Backend::Postgres);
}

/// Issue 15, case 17: every key of a file given twice, in shuffled order, more keys than one
/// fix-up statement takes (500): each first row, changed, unchanged, ended or new, is undone in
/// chunks, and the register, its history, deletions and keys are exactly as before the run.
fn every_key_twice(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, day1) = reference_day1();
    let n = day1.len();
    let day1_path = ws.path().join("day1.csv");
    write_csv(&day1_path, &header, &day1);
    assert_eq!(ws.ingest(&day1_path, &[]).0, 0);
    let people: Vec<_> = (0..n).step_by(97).map(|i| (i, employee(&ws, &day1[i][KEY]).unwrap())).collect();
    let tables = |ws: &Workspace| ["employees", "history", "deletions", "data_keys"].map(|t| table(ws, t));
    let before = tables(&ws);

    ws.edit_mapping("policy", "max_rejected_percent = 100");
    let mut day2: Vec<_> = Vec::with_capacity(2 * n + 20);
    for (i, row) in day1.iter().enumerate() {
        day2.push(match i % 4 {
            0 => with(row, TITLE, "Projektledare"),
            1 => with(row, END, "2026-12-31"),
            _ => row.clone(),
        });
        day2.push(row.clone());
    }
    for (i, row) in day1.iter().take(10).enumerate() {
        let new = with(row, KEY, &format!("0099{i:02}"));
        day2.extend([new.clone(), new]);
    }
    // Any order: a seeded shuffle.
    crate::support::shuffle(&mut day2, 0x9E37_79B9_7F4A_7C15);
    let day2_path = ws.path().join("day2.csv");
    write_csv(&day2_path, &header, &day2);
    let (code, r2) = ws.ingest(&day2_path, &[]);
    assert_eq!((code, r2["status"].as_str()), (3, Some("applied")), "{}", r2["error"]);
    let c = &r2["counts"];
    assert_eq!(
        (c["rejected"].as_u64(), c["new"].as_u64(), c["changed"].as_u64()),
        (Some(2 * n as u64 + 20), Some(0), Some(0))
    );
    let [employees, history, deletions, keys] = tables(&ws);
    assert_eq!([employees, history, deletions], [before[0], before[1], before[2]]);
    assert_eq!(keys, before[3] + 1, "only the run's quarantine key is new");
    for (i, person) in people {
        assert_eq!(employee(&ws, &day1[i][KEY]).unwrap(), person, "person {i} changed");
    }
    assert!(employee(&ws, "009901").is_none());
}

#[test]
fn sqlite_every_key_given_twice_is_undone_in_chunks() {
    every_key_twice(Backend::Sqlite);
}

#[test]
fn postgres_every_key_given_twice_is_undone_in_chunks() {
    every_key_twice(Backend::Postgres);
}
