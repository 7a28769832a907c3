//! Rows whose mapped cells are the same as last time are known unchanged before validation; the
//! mapping they were read under, and today's meaning of an identity number, are part of that
//! check, so a changed mapping or a new day that changes what a cell means validates afresh.

use crate::support::{Backend, Workspace, reference_day1, with, write_csv};

const KEY: usize = 0; // Anst.nr
const PNR: usize = 1; // Personnummer
const TITLE: usize = 9; // Befattning

/// A ten-digit identity number with its Luhn control digit, from nine digits.
fn short_pnr(nine: &str) -> String {
    let sum: u32 = nine
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
            d / 10 + d % 10
        })
        .sum();
    format!("{}-{}{}", &nine[..6], &nine[6..], (10 - sum % 10) % 10)
}

/// Makes the workspace's mapping upper-case `field` (read from `column`); the mapping's path and
/// its text before.
fn upper_case(ws: &Workspace, field: &str, column: &str) -> (std::path::PathBuf, String) {
    let mapping = ws.path().join("mappings/acme.toml");
    let original = std::fs::read_to_string(&mapping).unwrap();
    let table = format!("[fields.{field}]\ncolumn = \"{column}\"\n");
    let upper = original.replace(&table, &format!("{table}transforms = [\"trim\", \"upper\"]\n"));
    assert_ne!(upper, original, "the mapping's {field} table is where the test expects it");
    std::fs::write(&mapping, &upper).unwrap();
    (mapping, original)
}

fn a_changed_mapping_validates_the_same_cells_afresh(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, rows) = reference_day1();
    let day1 = ws.path().join("day1.csv");
    write_csv(&day1, &header, &rows);
    let (code, r1) = ws.ingest(&day1, &[]);
    assert_eq!(code, 0, "{r1}");
    let valid = r1["counts"]["new"].as_u64().unwrap();
    let titled = rows.iter().filter(|r| !r[TITLE].trim().is_empty()).count() as u64;
    assert!(titled > 100, "the reference export has job titles");

    // The same cells in another order (another file): all unchanged.
    let mut reversed = rows.clone();
    reversed.reverse();
    let again = ws.path().join("again.csv");
    write_csv(&again, &header, &reversed);
    let (code, r2, quick) = ws.ingest_logged(&again, &["--dry-run"]);
    assert_eq!(code, 0, "{r2}");
    assert_eq!(r2["counts"]["unchanged"].as_u64(), Some(valid), "{r2}");
    assert_eq!(quick, valid, "every valid row is found by the quick check");

    // Job titles now upper-cased by the mapping: the same cells give other values.
    let (mapping, original) = upper_case(&ws, "job_title", "Befattning");
    let (_, r3, quick) = ws.ingest_logged(&again, &["--dry-run"]);
    assert_eq!(quick, 0, "no print matches under another mapping");
    assert_eq!(r3["counts"]["changed"].as_u64(), Some(titled), "{r3}");
    assert_eq!(r3["changed_fields"]["job_title"].as_u64(), Some(titled), "{r3}");
    assert_eq!(r3["counts"]["unchanged"].as_u64(), Some(valid - titled), "{r3}");

    // Back to the mapping the register was written under: unchanged again, and applied.
    std::fs::write(&mapping, &original).unwrap();
    let (code, r4, quick) = ws.ingest_logged(&again, &[]);
    assert_eq!((code, r4["status"].as_str()), (0, Some("applied")), "{r4}");
    assert_eq!(r4["counts"]["unchanged"].as_u64(), Some(valid), "{r4}");
    assert_eq!(quick, valid);
}

/// A short identity number's century follows today: written `YYMMDD-NNNN`, a person born on
/// 25 November 1926 is read as born in 1926 on the 24th, and as born that day on the 25th.
/// The quick check must not keep yesterday's reading of the same cells.
fn a_new_day_that_changes_a_cells_meaning_validates_it_afresh(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, mut rows) = reference_day1();
    rows.truncate(20);
    rows[3] =
        rows[3].iter().enumerate().map(|(i, v)| if i == PNR { short_pnr("261125456") } else { v.to_owned() }).collect();
    let day1 = ws.path().join("day1.csv");
    write_csv(&day1, &header, &rows);
    let (code, r1) = ws.ingest(&day1, &["--now", "2026-11-24"]);
    assert_eq!((code, r1["counts"]["new"].as_u64()), (0, Some(20)), "{r1}");

    // The same cells the same day: all found by the quick check.
    rows.reverse();
    let again = ws.path().join("again.csv");
    write_csv(&again, &header, &rows);
    let (_, same_day, quick) = ws.ingest_logged(&again, &["--dry-run", "--now", "2026-11-24"]);
    assert_eq!((same_day["counts"]["unchanged"].as_u64(), quick), (Some(20), 20), "{same_day}");

    // The next day the short number means another birth date: changed, like full validation says.
    let (_, next_day, quick) = ws.ingest_logged(&again, &["--dry-run", "--now", "2026-11-25"]);
    assert_eq!(next_day["counts"]["changed"].as_u64(), Some(1), "{next_day}");
    assert_eq!(next_day["changed_fields"]["national_id"].as_u64(), Some(1), "{next_day}");
    assert_eq!(quick, 19);
}

/// The quick check looks a row up by its key cell as written. A key the mapping transforms
/// (written ` e000101 `, stored as `E000101`) is looked up by its validated form too, and a key
/// written as it is stored is found without its rules being checked.
fn a_transformed_key_is_found_by_the_quick_check(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    upper_case(&ws, "employee_id", "Anst.nr");
    let (header, mut rows) = reference_day1();
    rows.truncate(40);
    for (i, row) in rows.iter_mut().enumerate() {
        let key = &row[KEY];
        let written = if i % 2 == 0 { format!(" e{key} ") } else { format!("E{key}") };
        *row = with(row, KEY, &written);
    }
    let day1 = ws.path().join("day1.csv");
    write_csv(&day1, &header, &rows);
    let (code, r1) = ws.ingest(&day1, &[]);
    assert!(code == 0 || code == 3, "{r1}");
    let valid = r1["counts"]["new"].as_u64().unwrap();
    assert!(valid > 30, "{r1}");
    let shown = ws.run(&["employees", "show", "--tenant", "acme", &format!("E{}", &reference_day1().1[0][KEY])]);
    assert!(shown.status.success(), "the key is stored upper-cased and trimmed");

    rows.reverse();
    let again = ws.path().join("again.csv");
    write_csv(&again, &header, &rows);
    let (_, r2, quick) = ws.ingest_logged(&again, &["--dry-run"]);
    assert_eq!(r2["counts"]["unchanged"].as_u64(), Some(valid), "{r2}");
    assert_eq!(quick, valid, "every valid row is found by the quick check, both ways of writing its key");
}

#[test]
fn sqlite_a_transformed_key_is_found_by_the_quick_check() {
    a_transformed_key_is_found_by_the_quick_check(Backend::Sqlite);
}

#[test]
fn postgres_a_transformed_key_is_found_by_the_quick_check() {
    a_transformed_key_is_found_by_the_quick_check(Backend::Postgres);
}

#[test]
fn sqlite_a_new_day_that_changes_a_cells_meaning_validates_it_afresh() {
    a_new_day_that_changes_a_cells_meaning_validates_it_afresh(Backend::Sqlite);
}

#[test]
fn postgres_a_new_day_that_changes_a_cells_meaning_validates_it_afresh() {
    a_new_day_that_changes_a_cells_meaning_validates_it_afresh(Backend::Postgres);
}

#[test]
fn sqlite_a_changed_mapping_validates_the_same_cells_afresh() {
    a_changed_mapping_validates_the_same_cells_afresh(Backend::Sqlite);
}

#[test]
fn postgres_a_changed_mapping_validates_the_same_cells_afresh() {
    a_changed_mapping_validates_the_same_cells_afresh(Backend::Postgres);
}
