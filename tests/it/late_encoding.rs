//! A Windows-1252 export whose first 64 KiB happen to be ASCII (the sniffed prefix cannot tell
//! it from UTF-8) is decided by its first other byte, not read as broken UTF-8.

use crate::support::{Backend, Workspace, reference_day1};

/// Swedish letters spelt in ASCII, for the part of the file that must be ASCII.
fn plain(s: &str) -> String {
    s.replace(['å', 'ä'], "a").replace('ö', "o").replace(['Å', 'Ä'], "A").replace('Ö', "O").replace('é', "e")
}

#[test]
fn a_1252_file_ascii_for_its_first_64_kib_reads_its_later_letters() {
    let Some(ws) = Workspace::new(Backend::Sqlite) else { return };
    let acme = std::fs::read_to_string(ws.path().join("mappings/acme.toml")).unwrap();
    std::fs::write(ws.path().join("mappings/plain.toml"), plain(&acme)).unwrap();

    let (header, rows) = reference_day1();
    let first_name = header.iter().position(|h| h == "Förnamn").unwrap();
    let key = header.iter().position(|h| h == "Anst.nr").unwrap();
    let mut text = header.iter().map(plain).collect::<Vec<_>>().join(";") + "\r\n";
    let last = rows.len() - 1;
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| if i == last && c == first_name { "Åsa".to_owned() } else { plain(v) })
            .map(|v| if v.contains([';', '"', '\n']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v })
            .collect();
        text += &(cells.join(";") + "\r\n");
    }
    let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!lossy);
    assert!(bytes[..64 * 1024].is_ascii() && !bytes.is_ascii());
    let file = ws.path().join("late.csv");
    std::fs::write(&file, &bytes).unwrap();

    let (code, report) = ws.ingest(&file, &["--mapping", "mappings/plain.toml"]);
    assert_eq!(report["detected"]["encoding"], "windows-1252", "{report}");
    let encoding_errors = report["rejections"].as_array().unwrap().iter().filter(|r| r["rule"] == "encoding").count();
    assert_eq!(encoding_errors, 0, "{report}");
    assert!(matches!(code, 0 | 3), "{report}");
    let out = ws.run(&["employees", "show", "--tenant", "acme", rows[last][key].trim(), "--json"]);
    let person: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(person["fields"]["first_name"], "Åsa");
}
