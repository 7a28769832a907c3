//! `gen_fixtures variant IN OUT ORDER RENDERING`: a benchmark export as another employer's system
//! would deliver the same data. ORDER is `id` (sorted by employee id), `name` (by last and first name, as
//! payroll systems sort) or `shuffled` (no order); RENDERING is `same` or `rerendered` (every cell
//! of a few columns written in another valid form: identity numbers with or without the hyphen,
//! phones in international form, dates as DD.MM.YYYY, e-mail upper-cased, names padded, salaries
//! without thousands spaces and with decimals). The file stays Windows-1252 with `;`.

#[path = "rerender.rs"]
mod rules;

use std::io;
use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Id,
    Name,
    Shuffled,
}

impl Order {
    pub fn parse(s: &str) -> Option<Order> {
        Some(match s {
            "id" => Order::Id,
            "name" => Order::Name,
            "shuffled" => Order::Shuffled,
            _ => return None,
        })
    }
}

pub fn write(input: &Path, output: &Path, order: Order, rerendered: bool) -> io::Result<()> {
    let bytes = std::fs::read(input)?;
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().map_err(io::Error::other)?.iter().map(str::to_owned).collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(io::Error::other)?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    let at = |name: &str| header.iter().position(|h| h == name).unwrap_or(0);
    match order {
        // The generator's own order has day 2's hires among the others; sorted here.
        Order::Id => {
            let id = at("Anst.nr");
            rows.sort_by(|a, b| a[id].cmp(&b[id]));
        }
        Order::Name => {
            let (last, first) = (at("Efternamn"), at("Förnamn"));
            rows.sort_by(|a, b| (&a[last], &a[first]).cmp(&(&b[last], &b[first])));
        }
        Order::Shuffled => rows.shuffle(&mut ChaCha8Rng::seed_from_u64(0x5EED_0016)),
    }
    let mut writer =
        csv::WriterBuilder::new().delimiter(b';').terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    writer.write_record(&header).map_err(io::Error::other)?;
    for row in &rows {
        if rerendered {
            let cells: Vec<String> = row.iter().zip(&header).map(|(v, h)| rules::rerender(h, v)).collect();
            writer.write_record(&cells).map_err(io::Error::other)?;
        } else {
            writer.write_record(row).map_err(io::Error::other)?;
        }
    }
    let text = String::from_utf8(writer.into_inner().map_err(io::Error::other)?).map_err(io::Error::other)?;
    let (encoded, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
    if lossy {
        return Err(io::Error::other("a re-rendered cell has a character Windows-1252 lacks"));
    }
    std::fs::write(output, encoded)
}
