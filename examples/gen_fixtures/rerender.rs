//! The re-rendering rules of the benchmark's and the tests' day-2 variants: the same meaning in
//! another form, as another HR system or export setting writes it. Shared by `gen_fixtures
//! variant` and `tests/it/row_order.rs` (included by path).

pub fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The cell in another valid form, if its column is one that is re-rendered and the cell is in
/// the form expected (broken cells stay broken).
pub fn rerender(column: &str, v: &str) -> String {
    match column {
        "Personnummer" if v.len() == 13 && v.as_bytes()[8] == b'-' && digits(&v[..8]) && digits(&v[9..]) => {
            format!("{}{}", &v[..8], &v[9..])
        }
        "Personnummer" if v.len() == 12 && digits(v) => format!("{}-{}", &v[..8], &v[8..]),
        "Mobil"
            if v.starts_with('0')
                && !v.starts_with("00")
                && v.len() > 4
                && v.bytes().all(|b| b.is_ascii_digit() || b == b' ' || b == b'-') =>
        {
            format!("+46 {}", v[1..].replace('-', " "))
        }
        "Anställningsdatum" | "Slutdatum"
            if v.len() == 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-' && digits(&v[..4]) =>
        {
            format!("{}.{}.{}", &v[8..], &v[5..7], &v[..4])
        }
        "E-post" if v.contains('@') => v.to_uppercase(),
        "Förnamn" | "Efternamn" if !v.is_empty() => format!(" {v} "),
        "Månadslön" if digits(&v.replace(' ', "")) => format!("{},00", v.replace(' ', "")),
        "Sysselsättningsgrad" if digits(v) => format!("{v},0"),
        _ => v.to_owned(),
    }
}
