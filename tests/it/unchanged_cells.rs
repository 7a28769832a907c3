//! Rows whose mapped cells are the same as last time are known unchanged before validation; the
//! mapping they were read under is part of that check, so a changed mapping validates afresh.

use std::path::Path;

use crate::support::{Backend, Workspace, fixtures};

const TITLE: usize = 9; // Befattning

fn reference() -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let text = std::fs::read_to_string(fixtures().join("reference/day1.utf8bom.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = r.headers().unwrap().clone();
    (header, r.records().map(Result::unwrap).collect())
}

fn write(path: &Path, header: &csv::StringRecord, rows: &[csv::StringRecord]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

fn a_changed_mapping_validates_the_same_cells_afresh(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, rows) = reference();
    let day1 = ws.path().join("day1.csv");
    write(&day1, &header, &rows);
    let (code, r1) = ws.ingest(&day1, &[]);
    assert_eq!(code, 0, "{r1}");
    let valid = r1["counts"]["new"].as_u64().unwrap();
    let titled = rows.iter().filter(|r| !r[TITLE].trim().is_empty()).count() as u64;
    assert!(titled > 100, "the reference export has job titles");

    // The same cells in another order (another file): all unchanged.
    let mut reversed = rows.clone();
    reversed.reverse();
    let again = ws.path().join("again.csv");
    write(&again, &header, &reversed);
    let (code, r2) = ws.ingest(&again, &["--dry-run"]);
    assert_eq!(code, 0, "{r2}");
    assert_eq!(r2["counts"]["unchanged"].as_u64(), Some(valid), "{r2}");

    // Job titles now upper-cased by the mapping: the same cells give other values.
    let mapping = ws.path().join("mappings/acme.toml");
    let original = std::fs::read_to_string(&mapping).unwrap();
    let upper = original.replace(
        "[fields.job_title]\ncolumn = \"Befattning\"\n",
        "[fields.job_title]\ncolumn = \"Befattning\"\ntransforms = [\"trim\", \"upper\"]\n",
    );
    assert_ne!(upper, original, "the mapping's job_title table is where the test expects it");
    std::fs::write(&mapping, &upper).unwrap();
    let (_, r3) = ws.ingest(&again, &["--dry-run"]);
    assert_eq!(r3["counts"]["changed"].as_u64(), Some(titled), "{r3}");
    assert_eq!(r3["changed_fields"]["job_title"].as_u64(), Some(titled), "{r3}");
    assert_eq!(r3["counts"]["unchanged"].as_u64(), Some(valid - titled), "{r3}");

    // Back to the mapping the register was written under: unchanged again, and applied.
    std::fs::write(&mapping, &original).unwrap();
    let (code, r4) = ws.ingest(&again, &[]);
    assert_eq!((code, r4["status"].as_str()), (0, Some("applied")), "{r4}");
    assert_eq!(r4["counts"]["unchanged"].as_u64(), Some(valid), "{r4}");
}

#[test]
fn sqlite_a_changed_mapping_validates_the_same_cells_afresh() {
    a_changed_mapping_validates_the_same_cells_afresh(Backend::Sqlite);
}

#[test]
fn postgres_a_changed_mapping_validates_the_same_cells_afresh() {
    a_changed_mapping_validates_the_same_cells_afresh(Backend::Postgres);
}
