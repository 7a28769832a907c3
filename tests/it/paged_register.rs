//! A register of several load pages (SQLite pages it by 50,000 keys while the file is read):
//! a day-2 file gives the same counts whether its keys come in the register's order (rows wait
//! only for their own page; hires above every stored key wait for none) or in reverse (the
//! first rows wait for the whole load). SQLite only: PostgreSQL loads its register as one page.

use crate::support::{Backend, Workspace, counts, reference_day1, with, write_csv};

const KEY: usize = 0; // Anst.nr
const TITLE: usize = 9; // Befattning
const END: usize = 12; // Slutdatum
const PEOPLE: usize = 120_000;

#[test]
fn day_two_counts_do_not_depend_on_the_order_of_keys() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let (header, reference) = reference_day1();
    // Reference rows without end dates, under keys 0000001.. in order.
    let day1: Vec<csv::StringRecord> = (0..PEOPLE)
        .map(|i| with(&with(&reference[i % reference.len()], END, ""), KEY, &format!("{:07}", i + 1)))
        .collect();
    let day1_path = ws.path().join("day1.csv");
    write_csv(&day1_path, &header, &day1);
    let (code, r1) = ws.ingest(&day1_path, &[]);
    assert_eq!((code, r1["counts"]["new"].as_u64()), (0, Some(PEOPLE as u64)), "{r1}");
    // The same file again: its duplicate check runs beside the first rows' validation, and
    // whatever those rows did went into a transaction that is never committed.
    let tables = ws.table_counts();
    let (code, again) = ws.ingest(&day1_path, &[]);
    assert_eq!((code, again["status"].as_str()), (0, Some("duplicate")), "{again}");
    assert_eq!(again["counts"]["new"].as_u64(), Some(0), "{again}");
    let mut want = tables;
    want.iter_mut().filter(|(n, _)| n == "runs").for_each(|(_, c)| *c += 1);
    assert_eq!(ws.table_counts(), want, "only the duplicate's run was stored");

    // Day 2: every 1000th person changes title, every 10,000th is missing; hires above every
    // stored key come among the first rows, and hires inside the key range in their sorted place.
    let mut day2 = Vec::new();
    let (mut changed, mut missing, mut new) = (0u64, 0u64, 0u64);
    for (i, row) in day1.iter().enumerate() {
        if i % 10_000 == 7 {
            missing += 1;
            continue;
        }
        if i % 1000 == 500 {
            day2.push(with(row, TITLE, "Projektledare"));
            changed += 1;
        } else {
            day2.push(row.clone());
        }
        if i % 40_000 == 3 {
            day2.push(with(row, KEY, &format!("{:07}x", i + 1)));
            new += 1;
        }
        if i < 20 {
            day2.push(with(row, KEY, &format!("9{:06}", i)));
            new += 1;
        }
    }
    let rows = day2.len() as u64;
    let want: Vec<(String, u64)> = [
        ("rows", rows),
        ("new", new),
        ("changed", changed),
        ("unchanged", rows - new - changed),
        ("ended", 0),
        ("rehired", 0),
        ("missing", missing),
        ("rejected", 0),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), *v))
    .collect();

    let sorted = ws.path().join("day2.sorted.csv");
    write_csv(&sorted, &header, &day2);
    day2.reverse();
    let reversed = ws.path().join("day2.reversed.csv");
    write_csv(&reversed, &header, &day2);

    let (_, dry) = ws.ingest(&reversed, &["--dry-run"]);
    assert_eq!(counts(&dry), want, "keys in reverse order");
    let (code, r2) = ws.ingest(&sorted, &[]);
    assert_eq!((code, r2["status"].as_str()), (0, Some("applied")), "{r2}");
    assert_eq!(counts(&r2), want, "keys in the register's order");
    assert_eq!(r2["changed_fields"]["job_title"].as_u64(), Some(changed), "{r2}");

    // The applied day 2 is the register now: in any order, every row of it is unchanged.
    let (_, again) = ws.ingest(&reversed, &["--dry-run"]);
    assert_eq!(again["counts"]["unchanged"].as_u64(), Some(rows), "{again}");
}
