//! The reference export, day 1 then day 2, in every fixture format and on both backends,
//! produces exactly the counts that the reference rules give (fixtures/reference/expected.json).

use std::collections::BTreeSet;

use crate::support::{Backend, Workspace, counts, fixtures};

const FORMATS: &[&str] = &["win1252.csv", "utf8bom.csv", "utf16.txt", "xlsx", "ods"];

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("reference/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rejection_set(v: &serde_json::Value) -> BTreeSet<(u64, String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["field"].as_str().unwrap().to_owned(),
                r["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn check_day(ws: &Workspace, day: &str, format: &str, expected: &serde_json::Value) {
    let file = fixtures().join(format!("reference/{day}.{format}"));
    let (code, report) = ws.ingest(&file, &[]);
    let want = &expected[day];
    assert_eq!(report["status"], "applied", "{day}.{format}: {report}");
    assert_eq!(counts(&report), counts(want), "{day}.{format} counts");
    assert_eq!(report["changed_fields"], want["changed_fields"], "{day}.{format} changed_fields");
    assert_eq!(rejection_set(&report["rejections"]), rejection_set(&want["rejections"]), "{day}.{format} rejections");
    let rejected = want["counts"]["rejected"].as_u64().unwrap();
    assert_eq!(code, if rejected > 0 { 3 } else { 0 }, "{day}.{format} exit code");
    for col in ["Fackförbund", "Sjukfrånvaro (dagar)", "Anteckning", "Hemadress"] {
        assert!(report["dropped_columns"].as_array().unwrap().iter().any(|c| c == col), "{col} not reported dropped");
    }
    for col in ["Fackförbund", "Sjukfrånvaro (dagar)", "Anteckning"] {
        assert!(report["refused_columns"].as_array().unwrap().iter().any(|c| c == col), "{col} not reported refused");
    }
}

fn day1_then_day2(backend: Backend, format: &str) {
    let Some(ws) = Workspace::new(backend) else { return };
    let expected = expected();
    check_day(&ws, "day1", format, &expected);
    check_day(&ws, "day2", format, &expected);
    // The same file twice changes nothing the second time.
    let (code, again) = ws.ingest(&fixtures().join(format!("reference/day2.{format}")), &[]);
    assert_eq!((code, again["status"].as_str()), (0, Some("duplicate")));
}

/// Several validators take the file's chunks in whatever order they finish; the counts, changed
/// fields and rejections are the reference's all the same.
fn several_validators(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    ws.add_config("validators = 4");
    let expected = expected();
    check_day(&ws, "day1", "win1252.csv", &expected);
    check_day(&ws, "day2", "win1252.csv", &expected);
}

#[test]
fn sqlite_several_validators_give_the_reference_counts() {
    several_validators(Backend::Sqlite);
}

#[test]
fn postgres_several_validators_give_the_reference_counts() {
    several_validators(Backend::Postgres);
}

macro_rules! reference_tests {
    ($($name:ident: $backend:expr, $format:expr;)*) => {
        $(#[test] fn $name() { day1_then_day2($backend, $format); })*
    };
}

reference_tests! {
    sqlite_win1252_csv: Backend::Sqlite, "win1252.csv";
    sqlite_utf8bom_csv: Backend::Sqlite, "utf8bom.csv";
    sqlite_utf16_txt: Backend::Sqlite, "utf16.txt";
    sqlite_xlsx: Backend::Sqlite, "xlsx";
    sqlite_ods: Backend::Sqlite, "ods";
    postgres_win1252_csv: Backend::Postgres, "win1252.csv";
    postgres_utf8bom_csv: Backend::Postgres, "utf8bom.csv";
    postgres_utf16_txt: Backend::Postgres, "utf16.txt";
    postgres_xlsx: Backend::Postgres, "xlsx";
    postgres_ods: Backend::Postgres, "ods";
}

/// A re-export of the same content in another encoding or format is all unchanged.
fn same_content_other_format(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (_, first) = ws.ingest(&fixtures().join("reference/day1.win1252.csv"), &[]);
    let rows = first["counts"]["rows"].as_u64().unwrap();
    for format in &FORMATS[1..] {
        let (code, r) = ws.ingest(&fixtures().join(format!("reference/day1.{format}")), &[]);
        assert_eq!(code, 0, "{format}: {r}");
        assert_eq!(r["counts"]["unchanged"].as_u64(), Some(rows), "{format}: {r}");
        assert_eq!(r["counts"]["new"].as_u64(), Some(0));
    }
}

#[test]
fn sqlite_same_content_in_every_format_is_unchanged() {
    same_content_other_format(Backend::Sqlite);
}

#[test]
fn postgres_same_content_in_every_format_is_unchanged() {
    same_content_other_format(Backend::Postgres);
}

#[test]
fn dry_run_writes_nothing_and_reports_the_same_counts() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let file = fixtures().join("reference/day1.win1252.csv");
    let (code, dry) = ws.ingest(&file, &["--dry-run"]);
    assert_eq!(code, 0, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert!(ws.table_counts().iter().all(|(_, n)| *n == 0), "dry run wrote: {:?}", ws.table_counts());
    let (_, real) = ws.ingest(&file, &[]);
    assert_eq!(counts(&dry), counts(&real));
}

/// Runs of one tenant started at once take turns: each diffs against the one before, nothing is
/// inserted twice, and the same content arriving twice is a duplicate, not a failed commit.
fn concurrent_runs_take_turns(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let files = ["reference/day1.win1252.csv", "reference/day1.utf8bom.csv", "reference/day1.win1252.csv"];
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            let path = fixtures().join(f);
            ws.command(&["ingest", path.to_str().unwrap(), "--tenant", "acme", "--report", "json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let reports: Vec<serde_json::Value> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!("not one JSON object ({e}); stderr: {}", String::from_utf8_lossy(&out.stderr))
            })
        })
        .collect();
    // Whichever run was the duplicate read nothing, so the file's row count is the largest.
    let rows = reports.iter().filter_map(|r| r["counts"]["rows"].as_u64()).max().unwrap();
    assert!(rows > 0);
    let mut outcomes: Vec<(String, u64, u64)> = reports
        .iter()
        .map(|r| {
            let n = |k: &str| r["counts"][k].as_u64().unwrap_or(0);
            (r["status"].as_str().unwrap_or("?").to_owned(), n("new"), n("unchanged"))
        })
        .collect();
    outcomes.sort();
    let want = vec![("applied".to_owned(), 0, rows), ("applied".to_owned(), rows, 0), ("duplicate".to_owned(), 0, 0)];
    assert_eq!(outcomes, want, "{reports:#?}");
    let counts: std::collections::BTreeMap<String, i64> = ws.table_counts().into_iter().collect();
    assert_eq!(counts["employees"], rows as i64);
    assert_eq!(counts["runs"], 3);
}

#[test]
fn sqlite_concurrent_runs_take_turns() {
    concurrent_runs_take_turns(Backend::Sqlite);
}

#[test]
fn postgres_concurrent_runs_take_turns() {
    concurrent_runs_take_turns(Backend::Postgres);
}

/// Content applied before is a duplicate even when today's mapping cannot read it: the file is
/// not read into an error that the duplicate check would have answered.
#[test]
fn an_applied_file_is_a_duplicate_whatever_the_mapping_makes_of_it_now() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let file = fixtures().join("reference/day1.win1252.csv");
    let (code, first) = ws.ingest(&file, &[]);
    assert!(code == 0 || code == 3, "{first}");
    let before = ws.table_counts();
    let mapping = ws.path().join("mappings/acme.toml");
    let original = std::fs::read_to_string(&mapping).unwrap();
    // Not a workbook: the file cannot be opened. Another delimiter: no key column in the header.
    // A required column the file lacks: the run fails once reading has begun.
    for (from, to) in [
        ("format = \"auto\"", "format = \"xlsx\""),
        ("delimiter = \"auto\"", "delimiter = \",\""),
        ("column = \"Förnamn\"", "column = \"Tilltalsnamn\""),
    ] {
        assert!(original.contains(from));
        std::fs::write(&mapping, original.replacen(from, to, 1)).unwrap();
        let (code, again) = ws.ingest(&file, &[]);
        assert_eq!((code, again["status"].as_str()), (0, Some("duplicate")), "{to}: {again}");
        assert_eq!(again["duplicate_of"], first["run_id"], "{to}");
        assert_eq!(again["sha256"], first["sha256"], "{to}");
        // And it is an error for a file never applied.
        let copy = ws.path().join("other.csv");
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.extend_from_slice(b"\r\n");
        std::fs::write(&copy, bytes).unwrap();
        let (code, other) = ws.ingest(&copy, &[]);
        assert_eq!((code, other["status"].as_str()), (1, Some("failed")), "{to}: {other}");
    }
    std::fs::write(&mapping, original).unwrap();
    let after: Vec<_> = ws.table_counts().into_iter().filter(|(t, _)| t != "runs").collect();
    let before: Vec<_> = before.into_iter().filter(|(t, _)| t != "runs").collect();
    assert_eq!(after, before);
}
