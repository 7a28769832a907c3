//! Every file of the bad-input corpus (fixtures/bad/expected.toml) gives its expected outcome and
//! error, and a failing file leaves the register as it was.

use serde::Deserialize;

use crate::support::{Backend, Workspace, fixtures};

#[derive(Debug, Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    file: String,
    exit: i32,
    #[serde(default)]
    error: Option<String>,
}

fn corpus() -> Vec<Case> {
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
