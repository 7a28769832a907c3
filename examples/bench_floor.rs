//! The benchmark's floor: decode and parse a CSV export with nothing else (encoding_rs + csv,
//! one reused record), then load the stored register. `scripts/bench` prints it beside the
//! ingest figures, so "2.5× the floor" is measured on the same machine in the same run.

use std::io::Read;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["csv", file, db] => csv_floor(file, db),
        ["xlsx", file] => xlsx_floor(file),
        _ => {
            eprintln!("usage: bench_floor csv FILE.csv REGISTER.db | bench_floor xlsx FILE.xlsx");
            std::process::exit(2);
        }
    }
}

/// calamine's own read of the first sheet, the yardstick for workbook ingest.
fn xlsx_floor(file: &str) -> Result<(), Box<dyn std::error::Error>> {
    use calamine::Reader;
    let t = Instant::now();
    let mut wb = calamine::open_workbook_auto(file)?;
    let name = wb.sheet_names().first().cloned().ok_or("no sheet")?;
    let range = wb.worksheet_range(&name)?;
    let cells = range.cells().count();
    println!("{{\"cells\": {cells}, \"read_s\": {:.3}}}", t.elapsed().as_secs_f64());
    Ok(())
}

fn csv_floor(file: &str, db: &str) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let f = std::fs::File::open(file)?;
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding_rs::WINDOWS_1252))
        .build(std::io::BufReader::with_capacity(1 << 16, f));
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').flexible(true).from_reader(decoded.take(u64::MAX));
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    let mut bytes = 0usize;
    while reader.read_byte_record(&mut record)? {
        rows += 1;
        bytes += record.as_slice().len();
    }
    let parse = t.elapsed();

    // The scan is the store's own register load (key, fingerprint, cells print and ended flag
    // of every person, into memory), the fastest read of the register there is: a row-by-row
    // sqlx query costs several times more and would flatter every ratio against this floor.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (scanned, scan) = rt.block_on(async {
        use hrfeed::store::Store;
        let store = hrfeed::store::SqliteStore::open_url(&format!("sqlite:{db}"), None).await?;
        let tenant = hrfeed::ids::TenantId::parse("acme").map_err(std::io::Error::other)?;
        let t = Instant::now();
        let register = hrfeed::store::register(&store, &tenant).await?;
        let scan = t.elapsed();
        store.close().await;
        Ok::<_, Box<dyn std::error::Error>>((register.len(), scan))
    })?;
    println!(
        "{{\"rows\": {rows}, \"cell_bytes\": {bytes}, \"parse_s\": {:.3}, \"register_rows\": {scanned}, \"scan_s\": {:.3}, \"floor_s\": {:.3}}}",
        parse.as_secs_f64(),
        scan.as_secs_f64(),
        (parse + scan).as_secs_f64()
    );
    Ok(())
}
