//! Issue 16: the same exports in any row order and any rendering of their cells give the same
//! counts and the same register. Real exports come sorted by name or department, or not at all,
//! and after a change of HR system every cell is written another way while meaning the same.

#[path = "../../examples/gen_fixtures/rerender.rs"]
mod rules;

use crate::support::{Backend, Workspace, fixtures, write_csv};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    ById,
    ByLastName,
    Shuffled,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rendering {
    AsExported,
    Rerendered,
}

fn export(day: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let text = std::fs::read_to_string(fixtures().join(format!("reference/{day}.utf8bom.csv"))).unwrap();
    let mut r = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = r.headers().unwrap().clone();
    (header, r.records().map(Result::unwrap).collect())
}

fn column(header: &csv::StringRecord, name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
}

fn ordered(header: &csv::StringRecord, mut rows: Vec<csv::StringRecord>, order: Order) -> Vec<csv::StringRecord> {
    match order {
        Order::ById => rows.sort_by(|a, b| a[0].cmp(&b[0])),
        Order::ByLastName => {
            let (last, first) = (column(header, "Efternamn"), column(header, "Förnamn"));
            rows.sort_by(|a, b| (&a[last], &a[first]).cmp(&(&b[last], &b[first])));
        }
        Order::Shuffled => crate::support::shuffle(&mut rows, 0x5DEE_CE66_D1CE_4E5B),
    }
    rows
}

/// The same meaning in another form, as another HR system or export setting writes it; cells
/// not in the expected form (the export's deliberately broken ones) stay as they are, so every
/// rejection stays a rejection.
fn rerender(header: &csv::StringRecord, row: &csv::StringRecord) -> csv::StringRecord {
    row.iter().enumerate().map(|(c, v)| rules::rerender(&header[c], v)).collect()
}

fn file(ws: &Workspace, day: &str, order: Order, rendering: Rendering) -> std::path::PathBuf {
    let (header, rows) = export(day);
    let rows = match rendering {
        Rendering::AsExported => rows,
        Rendering::Rerendered => rows.iter().map(|r| rerender(&header, r)).collect(),
    };
    let path = ws.path().join(format!("{day}-{order:?}-{rendering:?}.csv"));
    write_csv(&path, &header, &ordered(&header, rows, order));
    path
}

/// The register as `employees list --json` shows it, without what differs by run (ids, times).
fn register(ws: &Workspace) -> Vec<serde_json::Value> {
    let out = ws.run(&["employees", "list", "--tenant", "acme", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut p: serde_json::Value = serde_json::from_str(l).unwrap();
            for h in p["history"].as_array_mut().unwrap() {
                h.as_object_mut().unwrap().retain(|k, _| k == "kind" || k == "fields");
            }
            p
        })
        .collect()
}

/// What a run's report says about the file, apart from what names the run or the file.
fn outcome(report: &serde_json::Value) -> serde_json::Value {
    let mut rejections: Vec<_> =
        report["rejections"].as_array().unwrap().iter().map(|r| (r["field"].clone(), r["rule"].clone())).collect();
    rejections.sort_by_key(|r| r.0.to_string() + &r.1.to_string());
    serde_json::json!({
        "status": report["status"],
        "counts": report["counts"],
        "changed_fields": report["changed_fields"],
        "rejections": rejections,
    })
}

fn any_order_and_rendering(backend: Backend) {
    let days = |ws: &Workspace, (o1, r1): (Order, Rendering), (o2, r2): (Order, Rendering)| {
        let (c1, day1) = ws.ingest(&file(ws, "day1", o1, r1), &[]);
        let (c2, day2) = ws.ingest(&file(ws, "day2", o2, r2), &[]);
        ((c1, outcome(&day1)), (c2, outcome(&day2)), register(ws))
    };
    let Some(base_ws) = Workspace::new(backend) else { return };
    let base = days(&base_ws, (Order::ById, Rendering::AsExported), (Order::ById, Rendering::AsExported));
    assert!(base.2.len() > 3000, "the register holds the reference export");
    let orders = [Order::ById, Order::ByLastName, Order::Shuffled];
    for (i, o1) in orders.into_iter().enumerate() {
        for r1 in [Rendering::AsExported, Rendering::Rerendered] {
            // Day 2 comes in another order, and written the other way: every cell differs in
            // form from the one stored, for the re-rendered day 2.
            let o2 = orders[(i + 1) % 3];
            let r2 = if r1 == Rendering::AsExported { Rendering::Rerendered } else { Rendering::AsExported };
            let Some(mut ws) = Workspace::new(backend) else { return };
            // Writes held for key order go to disk every 16 KiB instead of 16 MiB (and
            // PostgreSQL's sorted windows go every 8 KiB), so the reference export's
            // out-of-order writes take the way a large file's take.
            ws.env.push(("HRFEED_KEY_ORDER_MEMORY_KIB".into(), "16".into()));
            let got = days(&ws, (o1, r1), (o2, r2));
            let case = format!("day 1 {o1:?} {r1:?}, day 2 {o2:?} {r2:?}");
            assert_eq!(got.0, base.0, "{case}: day 1");
            assert_eq!(got.1, base.1, "{case}: day 2");
            if got.2 != base.2 {
                let lines = |r: &[serde_json::Value]| r.iter().map(|p| format!("{p}\n")).collect::<String>();
                let dir = std::env::temp_dir().join(format!("hrfeed-row-order-{backend:?}"));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("expected.jsonl"), lines(&base.2)).unwrap();
                std::fs::write(dir.join("got.jsonl"), lines(&got.2)).unwrap();
                panic!(
                    "{case}: the registers differ ({} and {} people); see {}",
                    base.2.len(),
                    got.2.len(),
                    dir.display()
                );
            }
        }
    }
}

/// The prints of cells written another way are kept apart from the people's rows
/// (`store::prints`): they spare the same cells' validation the next day, and never outlive a
/// change. A person changed after their print was kept, then written back as they were, in the
/// same form as the day the print was kept, is found changed back, not unchanged.
fn kept_prints_skip_validation_and_never_hide_a_change(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    let ingest = |name: &str, rows: Vec<csv::StringRecord>, order: Order| {
        let (header, _) = export("day1");
        let path = ws.path().join(name);
        write_csv(&path, &header, &ordered(&header, rows, order));
        let (_, report, quick) = ws.ingest_logged(&path, &[]);
        assert_eq!(report["status"].as_str(), Some("applied"), "{name}: {report}");
        (report["counts"].clone(), quick)
    };
    let (header, rows) = export("day1");
    let (day1, _) = ingest("a.csv", rows.clone(), Order::ById);
    let valid = day1["new"].as_u64().unwrap();
    let written: Vec<csv::StringRecord> = rows.iter().map(|r| rerender(&header, r)).collect();

    // Every cell written another way: all unchanged, validated in full, their prints kept.
    let (day2, quick) = ingest("b-shuffled.csv", written.clone(), Order::Shuffled);
    assert_eq!(day2["unchanged"].as_u64(), Some(valid), "{day2}");
    assert!(quick < valid / 10, "{quick} of {valid} rows skipped validation on cells written another way");
    // The same cells again (another order, so another file): none is validated again.
    let (day3, quick) = ingest("b-by-id.csv", written.clone(), Order::ById);
    assert_eq!((day3["unchanged"].as_u64(), quick), (Some(valid), valid), "{day3}");

    // One person's job title changes; then the file says it was what it had been.
    let title = column(&header, "Befattning");
    let mut changed = written.clone();
    changed[0] = changed[0].iter().enumerate().map(|(i, v)| if i == title { "Specialist" } else { v }).collect();
    let (day4, quick) = ingest("c.csv", changed, Order::ById);
    assert_eq!((day4["changed"].as_u64(), quick), (Some(1), valid - 1), "{day4}");
    let (day5, quick) = ingest("b-by-name.csv", written, Order::ByLastName);
    assert_eq!(day5["changed"].as_u64(), Some(1), "the kept print of the old cells must not hide the change: {day5}");
    assert_eq!(quick, valid - 1, "{day5}");
    let shown = ws.run(&["employees", "show", "--tenant", "acme", &rows[0][0], "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let kinds: Vec<&str> = shown["history"].as_array().unwrap().iter().filter_map(|h| h["kind"].as_str()).collect();
    assert_eq!(kinds, ["new", "changed", "changed"], "{shown}");
}

crate::both_backends! {
    kept_prints_skip_validation_and_never_hide_a_change => sqlite_kept_prints_skip_validation_and_never_hide_a_change, postgres_kept_prints_skip_validation_and_never_hide_a_change;
}

crate::both_backends! {
    any_order_and_rendering => sqlite_any_row_order_and_rendering_gives_the_same_register, postgres_any_row_order_and_rendering_gives_the_same_register;
}

/// A damaged page of the print overlay fails the register's load, and with it the run: with
/// the error, not by waiting for ever (the helper validator leaves with the others while the
/// reader waits on a full queue), nothing applied, and the file goes through once the damage
/// is gone.
#[test]
fn a_damaged_print_overlay_fails_the_run_and_loses_nothing() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let (header, rows) = export("day1");
    let key = column(&header, "Anst.nr");
    // More rows than the validators' queue and chunks hold, so the reader waits on them.
    let many: Vec<csv::StringRecord> = (0..12_000)
        .map(|i| {
            let r = &rows[i % rows.len()];
            r.iter().enumerate().map(|(c, v)| if c == key { format!("{i:07}") } else { v.to_owned() }).collect()
        })
        .collect();
    let write = |name: &str, rows: Vec<csv::StringRecord>| {
        let path = ws.path().join(name);
        write_csv(&path, &header, &rows);
        path
    };
    let (_, day1) = ws.ingest(&write("a.csv", many.clone()), &[]);
    assert_eq!(day1["status"].as_str(), Some("applied"), "{day1}");
    let written: Vec<csv::StringRecord> = many.iter().map(|r| rerender(&header, r)).collect();
    let (_, day2) = ws.ingest(&write("b.csv", written.clone()), &[]);
    assert_eq!(day2["status"].as_str(), Some("applied"), "{day2}");

    let db = ws.path().join("data/hrfeed.db");
    let damage = |sql: &'static str| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", db.display())).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap().rows_affected()
        })
    };
    assert!(damage("UPDATE cells_overlay SET prints = X'01'") > 0, "day 2 kept its prints in the overlay");
    let again = write("c.csv", ordered(&header, written, Order::ByLastName));
    let mut child = ws
        .command(&["ingest", again.to_str().unwrap(), "--tenant", "acme"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("the run did not end after its register's load failed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
    let out = ws.run(&["ingest", again.to_str().unwrap(), "--tenant", "acme"]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && said.contains("malformed cells print overlay page"), "{said}");

    // The overlay is a cache of what validation would find: without it the file is validated
    // in full, and nothing changed.
    assert!(damage("DELETE FROM cells_overlay") > 0);
    let (_, day3) = ws.ingest(&again, &[]);
    assert_eq!(day3["status"].as_str(), Some("applied"), "{day3}");
    assert_eq!(day3["counts"]["unchanged"], day2["counts"]["unchanged"], "{day3}");
    assert_eq!(day3["counts"]["changed"].as_u64(), Some(0), "{day3}");
}
