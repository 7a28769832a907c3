//! Every file of the bad-input corpus (fixtures/bad/expected.toml) gives its expected outcome and
//! error, and a failing file leaves the register as it was.

use serde::Deserialize;

use crate::support::{Backend, Workspace, fixtures};

#[derive(Debug, Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Case {
    pub file: String,
    pub exit: i32,
    #[serde(default)]
    pub error: Option<String>,
}

pub(crate) fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("bad/expected.toml")).unwrap();
    toml::from_str::<Corpus>(&text).unwrap().case
}

/// Everything but the run log: a failed run is recorded, nothing else may change.
fn register_state(ws: &Workspace) -> Vec<(String, i64)> {
    ws.table_counts().into_iter().filter(|(t, _)| t != "runs").collect()
}

fn replay(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let cases = corpus();
    assert!(cases.len() >= 30, "the corpus has {} cases, want at least 30", cases.len());
    let (code, _) = ws.ingest(&fixtures().join("reference/day1.win1252.csv"), &[]);
    assert_eq!(code, 0);
    for case in cases.iter().filter(|c| c.exit == 1) {
        let before = register_state(&ws);
        let (code, report) = ws.ingest(&fixtures().join("bad").join(&case.file), &[]);
        assert_eq!(code, 1, "{}: {report}", case.file);
        assert_eq!(report["status"], "failed", "{}", case.file);
        let error = report["error"].as_str().unwrap_or_default();
        if let Some(want) = &case.error {
            assert!(error.contains(want.as_str()), "{}: error `{error}` does not contain `{want}`", case.file);
        }
        assert_eq!(register_state(&ws), before, "{} changed the register", case.file);
        // The file can be processed again: it gives the same error, not `duplicate`.
        let (again, _) = ws.ingest(&fixtures().join("bad").join(&case.file), &[]);
        assert_eq!(again, 1, "{}: second attempt", case.file);
    }
    // Bad-looking but fine files are read into an empty register, where nothing can be missing.
    for case in cases.iter().filter(|c| c.exit != 1) {
        let Some(fresh) = Workspace::new(backend) else { return };
        let (code, report) = fresh.ingest(&fixtures().join("bad").join(&case.file), &[]);
        assert_eq!(code, case.exit, "{}: {report}", case.file);
    }
}

#[test]
fn sqlite_bad_input_corpus() {
    replay(Backend::Sqlite);
}

#[test]
fn postgres_bad_input_corpus() {
    replay(Backend::Postgres);
}

/// A row whose text is broken in an unmapped column and then in a mapped one is rejected for
/// the mapped one: every broken cell counts, not only the first.
#[test]
fn every_broken_cell_of_a_row_is_seen() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let (header, mut rows) = crate::support::reference_day1();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (union, title) = (column("Fackförbund"), column("Befattning"));
    assert!(union < title, "the unmapped union column comes first");
    // The last row (past the first 64 KiB, so the file still reads as UTF-8) gets invalid bytes
    // in the unmapped union column and then in the mapped, optional job title.
    let last = rows.len() - 1;
    rows[last] = rows[last]
        .iter()
        .enumerate()
        .map(|(i, v)| match i {
            i if i == union => "@UNION@",
            i if i == title => "@TITLE@",
            _ => v,
        })
        .collect();
    let path = ws.path().join("broken.csv");
    crate::support::write_csv(&path, &header, &rows);
    let text = std::fs::read(&path).unwrap();
    let swap = |bytes: Vec<u8>, from: &[u8], to: &[u8]| -> Vec<u8> {
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        [&bytes[..at], to, &bytes[at + from.len()..]].concat()
    };
    let broken = swap(swap(text, b"@UNION@", b"\xC5"), b"@TITLE@", b"Chef \xC5");
    std::fs::write(&path, broken).unwrap();
    let (code, r) = ws.ingest(&path, &[]);
    assert_eq!((code, r["counts"]["rejected"].as_u64()), (3, Some(1)), "{r}");
    let rejections = r["rejections"].as_array().unwrap();
    assert!(rejections.iter().any(|e| e["field"] == "job_title" && e["rule"] == "encoding"), "{r}");
}
