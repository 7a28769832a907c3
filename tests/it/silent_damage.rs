//! Issue 14: plausible files that once damaged the register without saying so are now held or
//! refused with a reason, through the binary, on both backends.

use std::path::Path;

use crate::both_backends;
use crate::support::{Backend, Workspace, counts, fixtures, reference_day1, with, write_csv};

fn column(header: &csv::StringRecord, name: &str) -> usize {
    header.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"))
}

/// The reference day 1 with one header cell renamed (the customer's export changed).
fn day1_renamed(dir: &Path, from: &str, to: &str) -> std::path::PathBuf {
    let (header, rows) = reference_day1();
    let i = column(&header, from);
    let header = with(&header, i, to);
    let path = dir.join(format!("day1-{to}.csv"));
    write_csv(&path, &header, &rows);
    path
}

/// An id of day 1 whose row carries an end date.
fn an_ended_id() -> String {
    let (header, rows) = reference_day1();
    let end = column(&header, "Slutdatum");
    rows.iter().find(|r| !r[end].is_empty()).map(|r| r[0].to_owned()).unwrap()
}

fn loaded(backend: Backend) -> Option<Workspace> {
    let ws = Workspace::new(backend)?;
    let (code, r) = ws.ingest(&fixtures().join("reference/day1.win1252.csv"), &[]);
    assert_eq!(code, 0, "{r}");
    Some(ws)
}

/// Damage 1: a renamed end-date column once read as empty and rehired every ended person.
fn a_vanished_end_date_column_holds_the_run(backend: Backend) {
    let Some(ws) = loaded(backend) else { return };
    let ended = an_ended_id();
    let before = ws.employee(&ended);
    assert!(before["end_date"].is_string(), "{before}");
    let renamed = day1_renamed(ws.path(), "Slutdatum", "Avgångsdatum");
    let (code, r) = ws.ingest(&renamed, &[]);
    assert_eq!((code, r["status"].as_str()), (4, Some("held")), "{r}");
    let reasons: Vec<&str> = r["held_reasons"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(
        reasons.iter().any(|m| m.starts_with("column `Slutdatum` (field `end_date`) is missing from the file")),
        "{reasons:?}"
    );
    assert_eq!(ws.employee(&ended), before, "a held run changes nothing");

    // Said on purpose: the stored end dates stay and nobody is rehired.
    ws.edit_mapping("fields.end_date", "if_column_missing = \"keep\"");
    let (code, r) = ws.ingest(&renamed, &[]);
    assert_eq!((code, r["status"].as_str()), (0, Some("applied")), "{r}");
    assert_eq!(r["counts"]["rehired"], 0, "{r}");
    assert_eq!(r["counts"]["unchanged"], 3000, "{r}");
    assert_eq!(ws.employee(&ended), before);
    // The next such file is unchanged too, and still keeps them.
    let again = ws.path().join("again.csv");
    std::fs::copy(&renamed, &again).unwrap();
    std::fs::write(&again, [std::fs::read(&renamed).unwrap(), b"\n".to_vec()].concat()).unwrap();
    let (code, r) = ws.ingest(&again, &[]);
    assert_eq!((code, r["counts"]["unchanged"].as_u64()), (0, Some(3000)), "{r}");
    assert_eq!(ws.employee(&ended), before);
}

/// Damage 1, the other half: clearing on purpose still rehires 378 of 3000 at once, which the
/// rehire threshold holds.
fn clearing_on_purpose_is_held_by_the_rehire_threshold(backend: Backend) {
    let Some(ws) = loaded(backend) else { return };
    ws.edit_mapping("fields.end_date", "if_column_missing = \"empty\"");
    let renamed = day1_renamed(ws.path(), "Slutdatum", "Avgångsdatum");
    let (code, r) = ws.ingest(&renamed, &[]);
    assert_eq!((code, r["status"].as_str()), (4, Some("held")), "{r}");
    assert_eq!(r["counts"]["rehired"], 378, "{r}");
    assert_eq!(
        r["held_reasons"][0],
        "max_rehired_percent: 378 people rehired (12.6 % of the 3000 people in the register) exceeds 10 %"
    );
    ws.edit_mapping("policy", "max_rehired_percent = 50.0");
    let (code, r) = ws.ingest(&renamed, &[]);
    assert_eq!((code, r["counts"]["rehired"].as_u64()), (0, Some(378)), "{r}");
    assert!(ws.employee(&an_ended_id())["end_date"].is_null());
}

/// Damage 1, rejected share: a file whose every row is rejected was "applied".
fn a_file_whose_every_row_is_rejected_is_held(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, rows) = reference_day1();
    let pnr = column(&header, "Personnummer");
    let broken: Vec<_> = rows.iter().map(|r| with(r, pnr, "19000101-0000")).collect();
    let path = ws.path().join("broken.csv");
    write_csv(&path, &header, &broken);
    let (code, r) = ws.ingest(&path, &[]);
    assert_eq!((code, r["status"].as_str()), (4, Some("held")), "{r}");
    assert_eq!(r["counts"]["rejected"], 3000);
    assert_eq!(
        r["held_reasons"][0],
        "max_rejected_percent: 3000 rows rejected (100.0 % of the 3000 data rows of the file) exceeds 10 %"
    );
    let stored: i64 = ws.table_counts().iter().filter(|(t, _)| t == "employees").map(|(_, n)| *n).sum();
    assert_eq!(stored, 0, "nothing was applied");
}

/// Damage 6: ended people whose end date moves again were counted against the active people
/// only, and a share could read 125 %.
fn held_shares_never_exceed_100_percent(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, rows) = reference_day1();
    let end = column(&header, "Slutdatum");
    // Day A: 400 of 1000 people ended; day B moves every end date and ends everyone else.
    let day_a: Vec<_> =
        rows[..1000].iter().enumerate().map(|(i, r)| with(r, end, if i < 400 { "2031-01-31" } else { "" })).collect();
    let day_b: Vec<_> = rows[..1000].iter().map(|r| with(r, end, "2032-06-30")).collect();
    let (a, b) = (ws.path().join("a.csv"), ws.path().join("b.csv"));
    write_csv(&a, &header, &day_a);
    write_csv(&b, &header, &day_b);
    let (code, r) = ws.ingest(&a, &[]);
    assert_eq!(code, 0, "{r}");
    let (code, r) = ws.ingest(&b, &[]);
    assert_eq!((code, counts(&r)[4].1), (4, 1000), "{r}");
    assert_eq!(
        r["held_reasons"][0],
        "max_ended_percent: 1000 people ended (100.0 % of the 1000 people in the register) exceeds 10 %"
    );
}

both_backends! {
    a_vanished_end_date_column_holds_the_run =>
        sqlite_a_vanished_end_date_column_holds_the_run, postgres_a_vanished_end_date_column_holds_the_run;
    clearing_on_purpose_is_held_by_the_rehire_threshold =>
        sqlite_clearing_on_purpose_is_held_by_the_rehire_threshold,
        postgres_clearing_on_purpose_is_held_by_the_rehire_threshold;
    a_file_whose_every_row_is_rejected_is_held =>
        sqlite_a_file_whose_every_row_is_rejected_is_held, postgres_a_file_whose_every_row_is_rejected_is_held;
    held_shares_never_exceed_100_percent =>
        sqlite_held_shares_never_exceed_100_percent, postgres_held_shares_never_exceed_100_percent;
}

/// Damage 7: with stderr (or stdout) closed early the process aborted with exit 134.
fn closed_output_is_never_a_crash(backend: Backend) {
    use std::process::Stdio;
    let Some(ws) = Workspace::new(backend) else { return };
    let file = fixtures().join("bad/08-ragged-too-few-cells.csv");
    for closed in ["stderr", "stdout", "both"] {
        let mut cmd = ws.command(&["ingest", file.to_str().unwrap(), "--tenant", "acme", "-vv"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // Closing the read ends makes every write fail with a broken pipe.
        if closed != "stdout" {
            drop(child.stderr.take());
        }
        if closed != "stderr" {
            drop(child.stdout.take());
        }
        let status = child.wait_with_output().unwrap().status;
        assert_eq!(status.code(), Some(1), "{closed} closed: {status:?} (a failed file exits 1, never 134)");
    }
}

both_backends! {
    closed_output_is_never_a_crash => sqlite_closed_output_is_never_a_crash, postgres_closed_output_is_never_a_crash;
}

/// Damage 2: `45,000` in a decimal field was stored as 45; a thousands separator in half the world.
fn an_ambiguous_number_is_rejected_unless_the_field_declares_its_separators(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, rows) = reference_day1();
    let salary = column(&header, "Månadslön");
    let rows: Vec<_> = rows[..20].iter().map(|r| with(r, salary, "45,000")).collect();
    let path = ws.path().join("us-salaries.csv");
    write_csv(&path, &header, &rows);
    ws.edit_mapping("policy", "max_rejected_percent = 100.0");
    let (code, r) = ws.ingest(&path, &[]);
    assert_eq!((code, r["counts"]["rejected"].as_u64()), (3, Some(20)), "{r}");
    assert_eq!(r["rejections"][0]["rule"], "decimal_ambiguous", "{r}");
    assert_eq!(r["rejections"][0]["column"], "Månadslön");

    ws.edit_mapping("fields.monthly_salary", "thousands_separator = \",\"");
    let (code, r) = ws.ingest(&path, &["--reprocess"]);
    assert_eq!((code, r["counts"]["new"].as_u64()), (0, Some(20)), "{r}");
    assert_eq!(ws.employee(&rows[0][0])["monthly_salary"], "45000");
}

both_backends! {
    an_ambiguous_number_is_rejected_unless_the_field_declares_its_separators =>
        sqlite_an_ambiguous_number_is_rejected_unless_the_field_declares_its_separators,
        postgres_an_ambiguous_number_is_rejected_unless_the_field_declares_its_separators;
}

/// Damage 4: a file applied under a broken mapping was a "duplicate" for ever after, a dry run
/// of it said only "duplicate", and an older file sent again looked like "nothing changed".
fn a_file_can_be_processed_again(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, rows) = reference_day1();
    let ftype = column(&header, "Anställningsform");
    // The employer now writes English employment types; the mapping does not know them yet.
    let english: Vec<_> = rows.iter().map(|r| with(r, ftype, "Permanent")).collect();
    let file = ws.path().join("day1-english.csv");
    write_csv(&file, &header, &english);
    ws.edit_mapping("policy", "max_rejected_percent = 100.0");
    let (code, first) = ws.ingest(&file, &[]);
    assert_eq!((code, first["counts"]["rejected"].as_u64()), (3, Some(3000)), "{first}");

    ws.edit_mapping("fields.employment_type", "recode = { \"Permanent\" = \"Tillsvidare\" }");
    // A dry run of the same file shows the diff the fixed mapping gives, and that it was applied before.
    let (code, dry) = ws.ingest(&file, &["--dry-run"]);
    assert_eq!((code, dry["status"].as_str()), (0, Some("duplicate")), "{dry}");
    assert_eq!(dry["duplicate_of"], first["run_id"]);
    assert_eq!(dry["counts"]["new"], 3000, "{dry}");
    // Without --reprocess it is still a duplicate; with it, it is applied and says so.
    let (code, dup) = ws.ingest(&file, &[]);
    assert_eq!((code, dup["status"].as_str(), dup["counts"]["new"].as_u64()), (0, Some("duplicate"), Some(0)));
    assert!(dup.get("superseded_by").is_none(), "{dup}");
    let (code, again) = ws.ingest(&file, &["--reprocess"]);
    assert_eq!((code, again["status"].as_str()), (0, Some("applied")), "{again}");
    // Sent once more: a duplicate, and not "older than the register": the latest run is this content.
    let (_, dup) = ws.ingest(&file, &[]);
    assert!(dup["status"] == "duplicate" && dup.get("superseded_by").is_none(), "{dup}");
    assert_eq!((again["counts"]["new"].as_u64(), again["reprocess_of"].clone()), (Some(3000), first["run_id"].clone()));
    assert_eq!(ws.employee(&rows[0][0])["employment_type"], "Tillsvidare");
    let shown = ws.run(&["runs", "show", again["run_id"].as_str().unwrap()]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("reprocessed on purpose"), "{shown:?}");

    // A newer file, then the older one again: a duplicate that says it is older than the register.
    let (code, newer) = ws.ingest(&fixtures().join("reference/day1.win1252.csv"), &[]);
    assert_eq!(code, 0, "{newer}");
    let (code, old) = ws.ingest(&file, &[]);
    assert_eq!((code, old["status"].as_str()), (0, Some("duplicate")), "{old}");
    assert_eq!(old["superseded_by"], newer["run_id"], "{old}");
    let text = ws.run(&["ingest", file.to_str().unwrap(), "--tenant", "acme"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("older than the register"), "{text:?}");
}

both_backends! {
    a_file_can_be_processed_again => sqlite_a_file_can_be_processed_again, postgres_a_file_can_be_processed_again;
}

/// Damage 3: workbook date cells with a time of day were rejected, and their text was a
/// second early (08:29:59 for 08:30).
fn a_workbook_date_time_cell_is_read_by_its_date(backend: Backend) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let Some(ws) = Workspace::new(backend) else { return };
    let (header, rows) = reference_day1();
    let start = column(&header, "Anställningsdatum");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    for (r, rec) in rows[..50].iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in rec.iter().enumerate() {
            if c == start {
                let at = ExcelDateTime::from_ymd(2021, 3, 1).unwrap().and_hms(8, 30, r % 60).unwrap();
                sheet.write_datetime_with_format(r, c as u16, &at, &stamp).unwrap();
            } else {
                sheet.write_string(r, c as u16, v).unwrap();
            }
        }
    }
    let path = ws.path().join("stamped.xlsx");
    book.save(&path).unwrap();
    let (code, r) = ws.ingest(&path, &[]);
    assert_eq!((code, r["counts"]["new"].as_u64()), (0, Some(50)), "{r}");
    assert_eq!(ws.employee(&rows[0][0])["start_date"], "2021-03-01");
}

both_backends! {
    a_workbook_date_time_cell_is_read_by_its_date =>
        sqlite_a_workbook_date_time_cell_is_read_by_its_date, postgres_a_workbook_date_time_cell_is_read_by_its_date;
}

/// Damage 5: UTF-8 declared as Windows-1252 stored `Ã…sa`; declared UTF-16 it failed with "no
/// header row found". Both are refused, naming the declared and the likely encoding.
fn a_wrong_declared_encoding_is_refused_with_the_likely_one(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let cases = [
        ("windows-1252", "reference/day1.utf8bom.csv", "looks like utf-8"),
        ("windows-1252", "reference/day1.utf16.txt", "looks like utf-16le"),
        ("utf-16le", "reference/day1.win1252.csv", "looks like windows-1252"),
        ("utf-8", "reference/day1.win1252.csv", "looks like windows-1252"),
    ];
    for (declared, file, likely) in cases {
        ws.edit_mapping("source", &format!("encoding = \"{declared}\""));
        let (code, r) = ws.ingest(&fixtures().join(file), &[]);
        assert_eq!((code, r["status"].as_str()), (1, Some("failed")), "{declared} {file}: {r}");
        let error = r["error"].as_str().unwrap();
        assert!(error.contains(&format!("declares encoding `{declared}`")) && error.contains(likely), "{error}");
    }
    let stored: i64 = ws.table_counts().iter().filter(|(t, _)| t == "employees").map(|(_, n)| *n).sum();
    assert_eq!(stored, 0);
    // The right declaration reads the same file.
    ws.edit_mapping("source", "encoding = \"utf-8\"");
    let (code, r) = ws.ingest(&fixtures().join("reference/day1.utf8bom.csv"), &[]);
    assert_eq!((code, r["counts"]["new"].as_u64()), (0, Some(3000)), "{r}");
    assert_eq!(ws.employee("000101")["first_name"], "Örjan");
}

both_backends! {
    a_wrong_declared_encoding_is_refused_with_the_likely_one =>
        sqlite_a_wrong_declared_encoding_is_refused_with_the_likely_one,
        postgres_a_wrong_declared_encoding_is_refused_with_the_likely_one;
}
