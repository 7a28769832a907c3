//! Personal data stays in its place: after ingesting the reference exports, no canary of an
//! unmapped column and no kept personal value in clear (the employee id aside) occurs anywhere in
//! the database files, the logs or the reports.

use std::path::Path;

use crate::support::{Backend, Workspace, fixtures};

/// Kept values from the day-1/day-2 UTF-8 exports that are long enough not to occur by chance in
/// ciphertext: identity numbers (as written and normalised), e-mails, mobiles (as written and
/// E.164), last names and job titles of 8 or more bytes.
fn kept_values() -> Vec<String> {
    let mut out = Vec::new();
    for day in ["day1", "day2"] {
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(fixtures().join(format!("reference/{day}.utf8bom.csv")))
            .unwrap();
        let headers: Vec<String> =
            r.headers().unwrap().iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect();
        let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let (pnr, email, mobile, last, title) =
            (col("Personnummer"), col("E-post"), col("Mobil"), col("Efternamn"), col("Befattning"));
        for rec in r.records() {
            let rec = rec.unwrap();
            let get = |i: usize| rec.get(i).unwrap_or("").trim().to_owned();
            let p = get(pnr);
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            out.extend([p.clone(), digits]);
            out.push(get(email).to_lowercase());
            let m = get(mobile);
            let md: String = m.chars().filter(char::is_ascii_digit).collect();
            if let Some(rest) = md.strip_prefix('0') {
                out.push(format!("+46{rest}"));
            }
            out.extend([m, get(last), get(title)]);
        }
    }
    out.retain(|v| v.len() >= 8);
    out.sort();
    out.dedup();
    out
}

fn canaries() -> Vec<String> {
    std::fs::read_to_string(fixtures().join("reference/canaries.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn find_any(haystack: &[u8], needles: &[String]) -> Option<String> {
    let ac = aho_corasick::AhoCorasick::new(needles).unwrap();
    ac.find(haystack).map(|m| needles[m.pattern().as_usize()].clone())
}

#[test]
fn no_canary_or_clear_personal_value_in_database_logs_or_reports() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let canaries = canaries();
    assert!(canaries.len() >= 10, "too few canaries to be meaningful");
    let values = kept_values();
    assert!(values.len() > 1000, "too few kept values to be meaningful: {}", values.len());
    // The search itself works: the exports do hold what the database must not.
    let export = std::fs::read(fixtures().join("reference/day1.utf8bom.csv")).unwrap();
    assert!(find_any(&export, &canaries).is_some() && find_any(&export, &values).is_some());
    let mut outputs: Vec<u8> = Vec::new();
    for day in ["day1", "day2"] {
        let file = fixtures().join(format!("reference/{day}.utf8bom.csv"));
        for report in ["json", "text"] {
            let out = ws
                .command(&["-vv", "ingest", file.to_str().unwrap(), "--tenant", "acme", "--report", report])
                .env("HRFEED_LOG", "trace")
                .output()
                .unwrap();
            outputs.extend_from_slice(&out.stdout);
            outputs.extend_from_slice(&out.stderr);
        }
    }
    for args in [vec!["runs", "list"], vec!["-vv", "runs", "list", "--json"]] {
        let out = ws.run(&args);
        outputs.extend_from_slice(&out.stdout);
        outputs.extend_from_slice(&out.stderr);
    }
    // The logs really were on: a trace run says something.
    assert!(!outputs.is_empty());
    assert_eq!(find_any(&outputs, &canaries), None, "a canary leaked into logs or reports");
    assert_eq!(find_any(&outputs, &values), None, "a personal value leaked into logs or reports");

    let mut files = Vec::new();
    files_under(&ws.path().join("data"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("hrfeed.db")));
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert_eq!(find_any(&bytes, &canaries), None, "a canary is stored in {}", f.display());
        assert_eq!(find_any(&bytes, &values), None, "a personal value is stored in clear in {}", f.display());
    }
}
