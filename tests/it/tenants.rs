//! Issue 14: the example tenants beside `acme` (mappings/examples/), each an employer whose export
//! differs from the reference, give exactly the counts their fixtures were generated with, day 1
//! then day 2, on both backends.

use std::collections::BTreeSet;

use crate::both_backends;
use crate::support::{Backend, Workspace, counts, fixtures, root};

fn expected(tenant: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join(format!("tenants/{tenant}/expected.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rejection_set(v: &serde_json::Value) -> BTreeSet<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| (r["field"].as_str().unwrap().to_owned(), r["rule"].as_str().unwrap().to_owned()))
        .collect()
}

/// A workspace with the tenant's example mapping installed, as its README says.
fn workspace(backend: Backend, tenant: &str) -> Option<Workspace> {
    let ws = Workspace::new(backend)?;
    let mapping = root().join(format!("mappings/examples/{tenant}.toml"));
    std::fs::copy(mapping, ws.path().join(format!("mappings/{tenant}.toml"))).unwrap();
    Some(ws)
}

/// Ingests day 1 and day 2 and checks each day's counts and rejections; returns day 2's report.
fn story(ws: &Workspace, tenant: &str, ext: &str) -> serde_json::Value {
    let want = expected(tenant);
    let mut last = serde_json::Value::Null;
    for (day, now) in [("day1", "2026-12-01"), ("day2", want["now"].as_str().unwrap())] {
        let file = fixtures().join(format!("tenants/{tenant}/{day}.{ext}"));
        let (code, r) = ws.ingest_as(tenant, &file, &["--now", now]);
        let w = &want[day];
        assert_eq!(r["status"], "applied", "{tenant} {day}: {r}");
        assert_eq!(counts(&r), counts(w), "{tenant} {day} counts");
        assert_eq!(rejection_set(&r["rejections"]), rejection_set(&w["rejections"]), "{tenant} {day} rejections");
        assert_eq!(code, if w["counts"]["rejected"] == 0 { 0 } else { 3 }, "{tenant} {day}: {r}");
        last = r;
    }
    last
}

fn show(ws: &Workspace, tenant: &str, id: &str) -> serde_json::Value {
    let out = ws.run(&["employees", "show", "--tenant", tenant, id, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["fields"].clone()
}

fn refused(report: &serde_json::Value) -> Vec<&str> {
    report["refused_columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect()
}

/// An English web HRIS: US dates, FTE as a fraction, US money, status values, recoded types.
fn globex(backend: Backend) {
    let Some(ws) = workspace(backend, "globex") else { return };
    let day2 = story(&ws, "globex", "csv");
    assert_eq!(refused(&day2), ["SSN"]);
    let text = std::fs::read_to_string(fixtures().join("tenants/globex/day1.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let first = rows.records().next().unwrap().unwrap();
    let f = show(&ws, "globex", &first[0]);
    let fte = match &first[11] {
        "1.0" => "100",
        "0.8" => "80",
        "0.5" => "50",
        other => panic!("unexpected FTE {other}"),
    };
    assert_eq!(f["fte_percent"], fte, "{f}");
    let salary = first[12].trim_start_matches('$').replace(',', "");
    assert_eq!(f["annual_salary"].as_str().unwrap(), salary.trim_end_matches(".00"), "{f}");
    assert!(["Permanent", "Fixed-term", "Hourly"].contains(&f["employment_type"].as_str().unwrap()), "{f}");
}

/// A Swedish payroll delta file with events: only what changed, ends by key and date.
fn nordpay(backend: Backend) {
    let Some(ws) = workspace(backend, "nordpay") else { return };
    let day2 = story(&ws, "nordpay", "csv");
    assert_eq!(refused(&day2), ["Fackförbund"]);
    assert_eq!(day2["counts"]["missing"], 0, "nobody is missing from a delta file");
    // The unknown key was rejected, not hired.
    let out = ws.run(&["employees", "show", "--tenant", "nordpay", "99999"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Delta events whose cells match the stored print are still events: an end is recorded, and
/// an end date before the stored start date is rejected once the two meet.
fn nordpay_events_are_never_lost_to_the_cells_check(backend: Backend) {
    let Some(ws) = workspace(backend, "nordpay") else { return };
    story(&ws, "nordpay", "csv");
    let read = |day: &str| {
        let bytes = std::fs::read(fixtures().join(format!("tenants/nordpay/{day}.csv"))).unwrap();
        encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned()
    };
    let (day1, day2) = (read("day1"), read("day2"));
    let header = day1.lines().next().unwrap().to_owned();
    // Someone employed on day 1 whom day 2 did not mention.
    let id = day1
        .lines()
        .skip(1)
        .map(|l| l.split(';').collect::<Vec<_>>())
        .find(|c| c[7].is_empty() && !day2.lines().any(|l| l.split(';').nth(1) == Some(c[1])))
        .map(|c| c[1].to_owned())
        .unwrap();
    let write = |name: &str, rows: &[String]| {
        let text = format!("{header}\r\n{}\r\n", rows.join("\r\n"));
        let path = ws.path().join(name);
        std::fs::write(&path, encoding_rs::WINDOWS_1252.encode(&text).0).unwrap();
        path
    };
    // Day 3 changes only an unmapped column: the stored print becomes that of the key alone.
    let day3 = write("day3.csv", &[format!("ÄNDRING;{id};;;;;;;;;Kommunal")]);
    let (code, r) = ws.ingest_as("nordpay", &day3, &["--now", "2026-12-03"]);
    assert_eq!((code, r["counts"]["unchanged"].as_u64()), (0, Some(1)), "{r}");
    // Day 4 ends the person with the same mapped cells: an end all the same.
    let day4 = write("day4.csv", &[format!("SLUTAT;{id};;;;;;;;;")]);
    let (code, r) = ws.ingest_as("nordpay", &day4, &["--now", "2026-12-04"]);
    assert_eq!((code, r["counts"]["ended"].as_u64()), (0, Some(1)), "{r}");
    assert_eq!(show(&ws, "nordpay", &id)["end_date"], "2026-12-04");
    // An end before the stored start date is rejected, and the stored end stays.
    let day5 = write("day5.csv", &[format!("SLUTAT;{id};;;;;;19990101;;;")]);
    let (code, r) = ws.ingest_as("nordpay", &day5, &["--now", "2026-12-05"]);
    assert_eq!((code, r["counts"]["rejected"].as_u64()), (4, Some(1)), "{r}");
    assert_eq!(r["rejections"][0]["rule"], "date_order", "{r}");
    assert_eq!(show(&ws, "nordpay", &id)["end_date"], "2026-12-04");
}

/// A hand-saved workbook: hidden code sheet, titles, date cells with times, number ids, footer.
fn initech(backend: Backend) {
    let Some(ws) = workspace(backend, "initech") else { return };
    let day2 = story(&ws, "initech", "xlsx");
    assert_eq!(refused(&day2), ["Facklig tillhörighet"]);
    // Ids stored as numbers lost their zeros; the register has them padded.
    let f = show(&ws, "initech", "00040");
    assert!(f["start_date"].as_str().unwrap().len() == 10, "{f}");
}

both_backends! {
    globex => sqlite_globex_web_hris_full_export, postgres_globex_web_hris_full_export;
    nordpay => sqlite_nordpay_payroll_delta_with_events, postgres_nordpay_payroll_delta_with_events;
    nordpay_events_are_never_lost_to_the_cells_check =>
        sqlite_nordpay_events_are_never_lost_to_the_cells_check,
        postgres_nordpay_events_are_never_lost_to_the_cells_check;
    initech => sqlite_initech_workbook_with_title_dates_and_footer, postgres_initech_workbook_with_title_dates_and_footer;
}
