//! The command line as a user meets it: init, mapping check, exit codes, runs and employees.

use crate::support::{BIN, Backend, Workspace, fixtures};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn init_makes_a_working_setup_with_a_private_master_key() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    for p in ["hrfeed.toml", "mappings/acme.toml", "mappings/README.md", "inbox/acme", "data/master.key"] {
        assert!(ws.path().join(p).exists(), "{p} missing");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.path().join("data/master.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = ws.run(&["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already"), "{}", stderr(&again));
    let check = ws.run(&["mapping", "check", "mappings/acme.toml"]);
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn commands_find_the_config_through_dash_dash_config() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let file = fixtures().join("reference/day1.win1252.csv");
    let config = ws.path().join("hrfeed.toml");
    let out = std::process::Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "ingest", file.to_str().unwrap(), "--tenant", "acme"])
        .current_dir(std::env::temp_dir())
        .env_remove("HRFEED_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("applied"));
    assert!(ws.path().join("data/hrfeed.db").exists());
    assert!(ws.path().join("data/hrfeed.keys.db").exists(), "the key store is its own file");
}

#[test]
fn a_validator_count_out_of_range_is_a_config_error_that_names_it() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let text = ws.add_config("validators = 0");
    assert!(text.contains("# validators = "), "init documents the key");
    let out = ws.run(&["ingest", fixtures().join("reference/day1.win1252.csv").to_str().unwrap(), "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("validators = 0: must be from 1 to 64"), "{}", stderr(&out));
    assert!(!ws.path().join("data/hrfeed.db").exists(), "nothing ran");
}

#[test]
fn mapping_check_lists_every_error_with_its_line() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let bad = r#"tenant = "acme"
[file]
key = "employee_id"

[fields.employee_id]
column = "Anst.nr"
type = "string"
required = true
class = "identifier"
colour = "blue"

[fields.national_id]
column = "Personnummer"
type = "personnummer"
required = true
class = "extra_protection"

[fields.code]
column = "Kod"
type = "string"
pattern = "([a-z"
class = "employment"

[fields.code2]
column = " kod "
type = "string"
class = "employment"

[fields.union]
column = "Fackförbund"
type = "string"
class = "employment"
"#;
    std::fs::write(ws.path().join("mappings/bad.toml"), bad).unwrap();
    let out = ws.run(&["mapping", "check", "mappings/bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for want in [
        "line 5: field `employee_id`: unknown key `colour`",
        "line 12: field `national_id`: class `extra_protection` is sensitive: declare its `purpose`",
        "line 18: field `code`: `pattern` is not a valid regular expression",
        "line 24: field `code2`: column ` kod ` is already mapped by field `code`",
        "line 29: field `union`: column `Fackförbund` looks like union membership data",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    let broken = ws.path().join("mappings/broken.toml");
    std::fs::write(&broken, "tenant = \"acme\"\nsauce = 1\n[file]\nkey = \"x\"\n[fields]\n").unwrap();
    let out = ws.run(&["mapping", "check", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
}

#[test]
fn mapping_check_with_a_sample_shows_mapped_dropped_and_sensitive_columns() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let sample = fixtures().join("reference/day1.win1252.csv");
    let out = ws.run(&["mapping", "check", "mappings/acme.toml", "--sample", sample.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("windows-1252"), "{text}");
    assert!(text.contains("Personnummer") && text.contains("→ national_id"), "{text}");
    assert!(text.contains("Fackförbund  ⚠ looks sensitive: union membership"), "{text}");
    assert!(text.contains("Sjukfrånvaro (dagar)  ⚠ looks sensitive: health"), "{text}");
    assert!(text.contains("Hemadress"), "{text}");
}

/// Issue 14: `mapping check --sample` validates the sample's rows, so "every row rejected" is
/// seen before the first run; counts per column and rule, never a value.
#[test]
fn mapping_check_validates_the_sample_rows() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let day2 = fixtures().join("reference/day2.utf8bom.csv");
    let out =
        ws.run(&["mapping", "check", "mappings/acme.toml", "--sample", day2.to_str().unwrap(), "--now", "2026-11-02"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("rows: 3012 read, 3001 valid, 11 would be rejected"), "{text}");
    assert!(text.contains("duplicate_key 2"), "{text}");
    let canaries = std::fs::read_to_string(fixtures().join("reference/canaries.txt")).unwrap();
    for c in canaries.lines().filter(|c| !c.is_empty()) {
        assert!(!text.contains(c), "a value is printed");
    }
    // A sample in words the mapping does not know: every row rejected, and the check fails.
    let (header, rows) = crate::support::reference_day1();
    let col = header.iter().position(|c| c == "Anställningsform").unwrap();
    let english: Vec<_> = rows.iter().map(|r| crate::support::with(r, col, "Permanent")).collect();
    let path = ws.path().join("english.csv");
    crate::support::write_csv(&path, &header, &english);
    let out = ws.run(&["mapping", "check", "mappings/acme.toml", "--sample", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("3000 would be rejected (100.0 %"), "{text}");
    assert!(text.contains("Anställningsform → employment_type") && text.contains("0 of 3000  enum 3000"), "{text}");
}

/// Issue 14: one typo gives one error, with the name it most likely meant.
#[test]
fn one_typo_gives_one_error_with_a_did_you_mean() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let acme = std::fs::read_to_string(ws.path().join("mappings/acme.toml")).unwrap();
    for (from, to, want) in [
        (
            "required = true\nmin_length = 1\nmax_length = 20",
            "requird = true\nmin_length = 1\nmax_length = 20",
            "unknown key `requird` (did you mean `required`?)",
        ),
        (
            "type = \"string\"\nmax_length = 10\npattern",
            "type = \"strng\"\nmax_length = 10\npattern",
            "type `strng`: expected string, integer, decimal, date, bool, email, phone, personnummer or enum (did you mean `string`?)",
        ),
        (
            "key = \"employee_id\"",
            "key = \"employe_id\"",
            "[file] key `employe_id` is not a field of this mapping (did you mean `employee_id`?)",
        ),
        ("class = \"economic\"", "class = \"econmic\"", "(did you mean `economic`?)"),
    ] {
        assert!(acme.contains(from), "{from}");
        std::fs::write(ws.path().join("mappings/typo.toml"), acme.replacen(from, to, 1)).unwrap();
        let out = ws.run(&["mapping", "check", "mappings/typo.toml"]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains("1 error(s)") && err.contains(want), "{to}: {err}");
    }
}

/// Issue 14: an unknown tenant lists the tenants that have mappings, and exits 2 (usage).
#[test]
fn an_unknown_tenant_lists_the_tenants_with_mappings() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    std::fs::copy(ws.path().join("mappings/acme.toml"), ws.path().join("mappings/globex.toml")).unwrap();
    let file = fixtures().join("reference/day1.win1252.csv");
    let out = ws.run(&["ingest", file.to_str().unwrap(), "--tenant", "acmee"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no mapping for tenant `acmee`")
            && stderr(&out).contains("tenants with mappings: acme, globex"),
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["ingest", file.to_str().unwrap(), "--tenant", "globex"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is the mapping of tenant `acme`, not `globex`"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    assert_eq!(ws.run(&["ingest"]).status.code(), Some(2));
    assert_eq!(ws.run(&["ingest", "x.csv", "--tenant", "acme", "--report", "yaml"]).status.code(), Some(2));
    assert_eq!(ws.run(&["ingest", "no-such-file.csv", "--tenant", "acme"]).status.code(), Some(2));
    let file = fixtures().join("reference/day1.win1252.csv");
    assert_eq!(ws.run(&["ingest", file.to_str().unwrap(), "--tenant", "Not A Tenant"]).status.code(), Some(2));
    assert_eq!(ws.run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn runs_and_employees_show_what_happened() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let (_, day1) = ws.ingest(&fixtures().join("reference/day1.win1252.csv"), &[]);
    let run_id = day1["run_id"].as_str().unwrap();
    let list = ws.run(&["runs", "list"]);
    assert!(stdout(&list).contains(run_id), "{}", stdout(&list));
    let show = ws.run(&["runs", "show", run_id, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(shown["counts"], day1["counts"]);
    assert_eq!(ws.run(&["runs", "show", "nope"]).status.code(), Some(2));

    // The first person of the file, by the key column of the UTF-8 twin.
    let mut r = csv::Reader::from_path(fixtures().join("reference/day1.utf8bom.csv")).unwrap();
    let headers: Vec<String> =
        r.headers().unwrap().iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect();
    let key_col = headers.iter().position(|h| h == "Anst.nr").unwrap();
    let rec = r.records().next().unwrap().unwrap();
    let key = rec.get(key_col).unwrap().trim().to_owned();
    let out = ws.run(&["employees", "show", "--tenant", "acme", &key, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let person: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(person["employee_id"], key.as_str());
    assert!(person["fields"]["national_id"].as_str().is_some_and(|v| v.len() == 12));
    assert_eq!(person["history"][0]["kind"], "new");
    assert_eq!(ws.run(&["employees", "show", "--tenant", "acme", "no-such-person"]).status.code(), Some(2));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `hrfeed runs list | head -0`: the reader is gone before the first line is written.
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let file = fixtures().join("reference/day1.win1252.csv");
    for args in [
        vec!["runs", "list"],
        vec!["mapping", "check", "mappings/acme.toml"],
        vec!["ingest", file.to_str().unwrap(), "--tenant", "acme", "--report", "text"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = ws.command(&args).stdout(writer).stderr(std::process::Stdio::piped()).output().unwrap();
        assert!(!stderr(&out).contains("panic"), "{args:?}: {}", stderr(&out));
        assert!(matches!(out.status.code(), Some(0 | 3)), "{args:?}: {:?} {}", out.status, stderr(&out));
    }
    // The ingest that printed into the closed pipe was applied all the same.
    let list = ws.run(&["runs", "list"]);
    assert!(stdout(&list).contains("applied"), "{}", stdout(&list));
}

#[test]
fn demo_ingests_day1_then_day2_and_prints_both_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["demo", "--dir", "ws", "--fixtures", fixtures().join("reference").to_str().unwrap()])
        .current_dir(dir.path())
        .env_remove("HRFEED_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("== day1 ==") && text.contains("== day2 =="), "{text}");
    assert_eq!(text.matches("· applied").count(), 2, "{text}");
}

#[test]
fn a_field_kept_as_hash_is_stored_only_as_its_keyed_hash() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let acme = std::fs::read_to_string(ws.path().join("mappings/acme.toml")).unwrap();
    let hashed = acme.replace(
        "purpose = \"identification for insurance and pension\"",
        "purpose = \"identification for insurance and pension\"\nkeep = \"hash\"",
    );
    assert_ne!(acme, hashed);
    std::fs::write(ws.path().join("mappings/hashed.toml"), hashed).unwrap();
    let file = fixtures().join("reference/day1.utf8bom.csv");
    let (code, _) = ws.ingest(&file, &["--mapping", "mappings/hashed.toml"]);
    assert_eq!(code, 0);
    let mut r = csv::Reader::from_path(&file).unwrap();
    let headers: Vec<String> =
        r.headers().unwrap().iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect();
    let key_col = headers.iter().position(|h| h == "Anst.nr").unwrap();
    let key = r.records().next().unwrap().unwrap().get(key_col).unwrap().trim().to_owned();
    let out = ws.run(&["employees", "show", "--tenant", "acme", &key, "--json"]);
    let person: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let stored = person["fields"]["national_id"].as_str().unwrap();
    assert_eq!(stored.len(), 40, "{stored}");
    assert!(stored.bytes().all(|b| b.is_ascii_hexdigit()));
    // The same file again under the same mapping is unchanged: the hash is stable.
    let day1_again = fixtures().join("reference/day1.win1252.csv");
    let (_, again) = ws.ingest(&day1_again, &["--mapping", "mappings/hashed.toml"]);
    assert_eq!(again["counts"]["unchanged"], again["counts"]["rows"]);
}

/// Issue 14: `runs people ID` lists the ids of each class of an applied run, so the missing
/// people are found without guessing.
fn runs_people_lists_each_class(backend: Backend) {
    let Some(ws) = Workspace::new(backend) else { return };
    ws.ingest(&fixtures().join("reference/day1.win1252.csv"), &[]);
    let (_, day2) = ws.ingest(&fixtures().join("reference/day2.win1252.csv"), &[]);
    let id = day2["run_id"].as_str().unwrap();
    let out = ws.run(&["runs", "people", id, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let people: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for class in ["new", "changed", "ended", "rehired", "missing", "rejected"] {
        let n = people.iter().filter(|p| p["class"] == class).count() as u64;
        assert_eq!(Some(n), day2["counts"][class].as_u64(), "{class}");
    }
    let missing = ws.run(&["runs", "people", id, "--class", "missing"]);
    let ids: Vec<String> = stdout(&missing).lines().map(|l| l.split_whitespace().nth(1).unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 15);
    // A missing person is in the register and absent from the file.
    let file = std::fs::read(fixtures().join("reference/day2.utf8bom.csv")).unwrap();
    let text = String::from_utf8_lossy(&file);
    for id in &ids {
        assert!(!text.lines().any(|l| l.starts_with(&format!("{id},"))), "{id} is in day 2");
        assert!(ws.run(&["employees", "show", "--tenant", "acme", id]).status.success());
    }
    let rejected = ws.run(&["runs", "people", id, "--class", "rejected", "--json"]);
    assert!(stdout(&rejected).lines().all(|l| l.contains("\"row\":")), "{}", stdout(&rejected));
}

crate::both_backends! {
    runs_people_lists_each_class => sqlite_runs_people_lists_each_class, postgres_runs_people_lists_each_class;
}

/// Issue 14: every argument of every command says what it is in `--help`.
#[test]
fn every_help_argument_has_a_description() {
    let commands: &[&[&str]] = &[
        &[],
        &["init"],
        &["mapping", "check"],
        &["ingest"],
        &["runs", "list"],
        &["runs", "show"],
        &["runs", "people"],
        &["employees", "show"],
        &["demo"],
    ];
    for args in commands {
        let out = std::process::Command::new(BIN).args(*args).arg("--help").output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = stdout(&out);
        let mut in_list = false;
        for line in text.lines() {
            if line.ends_with(':') && !line.starts_with(' ') {
                in_list = line == "Arguments:" || line == "Options:";
                continue;
            }
            let trimmed = line.trim_start();
            // An argument's line names it (`-x`, `--x`, `<X>`, `[X]`) and then describes it.
            if in_list && (trimmed.starts_with('-') || trimmed.starts_with('<') || trimmed.starts_with('[')) {
                let described = trimmed.split("  ").filter(|p| !p.trim().is_empty()).count() > 1;
                assert!(described, "`hrfeed {}`: `{trimmed}` has no description", args.join(" "));
            }
        }
    }
}
