//! Hostile workbooks for `fixtures/bad`: small files that once asked calamine for gigabytes or
//! read one cell as another (issue 15, cases 1–4 and 9), and well-formed ones beside them that
//! show the same builders make readable files.

use std::io::{self, Cursor, Read, Write};

use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{
    BadCase, C_ID, Encoding, HEADERS, PAYROLL, PLAIN, bad, csv_text, encode, fine, ods_bytes, small_export, zip_options,
};

/// One BIFF8 record: type, length, data.
fn record(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    out.extend_from_slice(&typ.to_le_bytes());
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(data);
}

fn bof(dt: u16) -> Vec<u8> {
    let mut d = Vec::new();
    for v in [0x0600u16, dt, 0x0DBB, 0x07CC] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d.extend_from_slice(&[0; 8]);
    d
}

/// What one sheet of a hand-built XLS holds: its rows of text, a DIMENSIONS record (rows,
/// columns; `None`: the true ones), and cells placed anywhere.
struct XlsSheet<'a> {
    /// Records put into the globals after their BOF: (type, data).
    globals: &'a [(u16, &'a [u8])],
    rows: &'a [Vec<String>],
    dimensions: Option<(u32, u16)>,
    far: &'a [(u16, u16, &'a str)],
}

/// A BIFF8 workbook stream: globals (BOF, CODEPAGE, BOUNDSHEET, SST, EOF), then the sheet
/// (BOF, DIMENSIONS, one LABELSST per cell, EOF). Every text is in the shared-string table.
fn workbook_stream(sheet: &XlsSheet<'_>) -> Vec<u8> {
    let mut strings: Vec<&str> = Vec::new();
    let mut cells: Vec<(u16, u16, u32)> = Vec::new();
    let placed = sheet.rows.iter().enumerate().flat_map(|(r, row)| {
        row.iter().enumerate().filter(|(_, s)| !s.is_empty()).map(move |(c, s)| (r as u16, c as u16, s.as_str()))
    });
    for (r, c, text) in placed.chain(sheet.far.iter().copied()) {
        cells.push((r, c, strings.len() as u32));
        strings.push(text);
    }

    let mut sst = Vec::new();
    sst.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    sst.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    for s in &strings {
        // Every text as UTF-16 ("high byte" strings), so å ä ö need no code page.
        let units: Vec<u16> = s.encode_utf16().collect();
        sst.extend_from_slice(&(units.len() as u16).to_le_bytes());
        sst.push(1);
        for u in units {
            sst.extend_from_slice(&u.to_le_bytes());
        }
    }

    let name = "Personal";
    let mut globals = Vec::new();
    record(&mut globals, 0x0809, &bof(0x0005));
    for (typ, data) in sheet.globals {
        record(&mut globals, *typ, data);
    }
    record(&mut globals, 0x0042, &1200u16.to_le_bytes());
    let boundsheet_at = globals.len();
    let mut bs = vec![0u8; 4];
    bs.extend_from_slice(&[0, 0, name.len() as u8, 0]);
    bs.extend_from_slice(name.as_bytes());
    record(&mut globals, 0x0085, &bs);
    record(&mut globals, 0x00FC, &sst);
    record(&mut globals, 0x000A, &[]);
    let sheet_at = globals.len() as u32;
    globals[boundsheet_at + 4..boundsheet_at + 8].copy_from_slice(&sheet_at.to_le_bytes());

    let (true_rows, true_cols) =
        cells.iter().fold((0u32, 0u16), |(r, c), (cr, cc, _)| (r.max(u32::from(*cr) + 1), c.max(cc.saturating_add(1))));
    let (rows, cols) = sheet.dimensions.unwrap_or((true_rows, true_cols));
    let mut dims = Vec::new();
    dims.extend_from_slice(&0u32.to_le_bytes());
    dims.extend_from_slice(&rows.to_le_bytes());
    dims.extend_from_slice(&0u16.to_le_bytes());
    dims.extend_from_slice(&cols.to_le_bytes());
    dims.extend_from_slice(&0u16.to_le_bytes());
    let mut stream = globals;
    record(&mut stream, 0x0809, &bof(0x0010));
    record(&mut stream, 0x0200, &dims);
    for (r, c, i) in cells {
        let mut d = Vec::new();
        d.extend_from_slice(&r.to_le_bytes());
        d.extend_from_slice(&c.to_le_bytes());
        d.extend_from_slice(&0u16.to_le_bytes());
        d.extend_from_slice(&i.to_le_bytes());
        record(&mut stream, 0x00FD, &d);
    }
    record(&mut stream, 0x000A, &[]);
    stream
}

const FREESECT: u32 = 0xFFFF_FFFF;
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const FATSECT: u32 = 0xFFFF_FFFD;

/// A version-3 compound file holding one `Workbook` stream, padded to at least 4096 bytes so it
/// lives in regular sectors: sector 0 is the FAT, sector 1 the directory, then the stream.
fn cfb(stream: Vec<u8>) -> Vec<u8> {
    cfb_with(stream, false)
}

/// As [`cfb`]; with `looping`, the stream's last sector points back to its first.
fn cfb_with(mut stream: Vec<u8>, looping: bool) -> Vec<u8> {
    let len = stream.len().max(4096);
    stream.resize(len.div_ceil(512) * 512, 0);
    let sectors = stream.len() / 512;
    assert!(sectors + 2 <= 128, "one FAT sector holds 128 entries");

    let mut header = vec![0u8; 512];
    header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let put16 = |h: &mut Vec<u8>, at: usize, v: u16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |h: &mut Vec<u8>, at: usize, v: u32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put16(&mut header, 0x18, 0x003E);
    put16(&mut header, 0x1A, 0x0003);
    put16(&mut header, 0x1C, 0xFFFE);
    put16(&mut header, 0x1E, 9);
    put16(&mut header, 0x20, 6);
    put32(&mut header, 0x2C, 1); // FAT sectors
    put32(&mut header, 0x30, 1); // first directory sector
    put32(&mut header, 0x38, 4096); // mini stream cutoff
    put32(&mut header, 0x3C, ENDOFCHAIN); // no mini FAT
    put32(&mut header, 0x44, ENDOFCHAIN); // no DIFAT sectors
    for i in 0..109 {
        put32(&mut header, 0x4C + 4 * i, if i == 0 { 0 } else { FREESECT });
    }

    let mut fat = vec![FREESECT; 128];
    fat[0] = FATSECT;
    fat[1] = ENDOFCHAIN;
    for s in 0..sectors {
        fat[2 + s] = match (s + 1 == sectors, looping) {
            (false, _) => (3 + s) as u32,
            (true, false) => ENDOFCHAIN,
            (true, true) => 2,
        };
    }
    let fat: Vec<u8> = fat.iter().flat_map(|v| v.to_le_bytes()).collect();

    let entry = |name: &str, typ: u8, child: u32, start: u32, size: u32| {
        let mut e = vec![0u8; 128];
        let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
        for (i, u) in units.iter().enumerate() {
            e[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
        }
        e[0x40..0x42].copy_from_slice(&((units.len() * 2) as u16).to_le_bytes());
        e[0x42] = typ;
        e[0x43] = 1; // black
        e[0x44..0x48].copy_from_slice(&FREESECT.to_le_bytes());
        e[0x48..0x4C].copy_from_slice(&FREESECT.to_le_bytes());
        e[0x4C..0x50].copy_from_slice(&child.to_le_bytes());
        e[0x74..0x78].copy_from_slice(&start.to_le_bytes());
        e[0x78..0x7C].copy_from_slice(&size.to_le_bytes());
        e
    };
    let mut dir = entry("Root Entry", 5, 1, ENDOFCHAIN, 0);
    dir.extend(entry("Workbook", 2, FREESECT, 2, len as u32));
    dir.extend(entry("", 0, FREESECT, 0, 0));
    dir.extend(entry("", 0, FREESECT, 0, 0));

    let mut out = header;
    out.extend(fat);
    out.extend(dir);
    out.extend(stream);
    out
}

fn xls_bytes(sheet: &XlsSheet<'_>) -> Vec<u8> {
    cfb(workbook_stream(sheet))
}

/// The small export as rows of text, header first.
fn text_table() -> Vec<Vec<String>> {
    let (rows, _) = small_export();
    std::iter::once(HEADERS.iter().map(|h| (*h).to_owned()).collect()).chain(rows).collect()
}

/// Rewrites one entry of a zip (deflated, fixed timestamps) with `edit`.
fn rezip(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> io::Result<Vec<u8>> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(io::Error::other)?;
    let mut out = ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(io::Error::other)?;
        let name = entry.name().to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        out.start_file(name.as_str(), zip_options(CompressionMethod::Deflated)?).map_err(io::Error::other)?;
        out.write_all(&edit(&name, data))?;
    }
    Ok(out.finish().map_err(io::Error::other)?.into_inner())
}

/// Makes every entry named `target` declare `declared` bytes, in its local header and in the
/// central directory, whatever it inflates to.
fn lie_about_size(mut zip: Vec<u8>, target: &str, declared: u32) -> Vec<u8> {
    let name = target.as_bytes();
    let mut at = 0;
    while at + 46 <= zip.len() {
        let sig = u32::from_le_bytes([zip[at], zip[at + 1], zip[at + 2], zip[at + 3]]);
        let (name_len_at, size_at, name_at) = match sig {
            0x0403_4b50 => (at + 26, at + 22, at + 30),
            0x0201_4b50 => (at + 28, at + 24, at + 46),
            _ => {
                at += 1;
                continue;
            }
        };
        let len = u16::from_le_bytes([zip[name_len_at], zip[name_len_at + 1]]) as usize;
        if zip.get(name_at..name_at + len) == Some(name) {
            zip[size_at..size_at + 4].copy_from_slice(&declared.to_le_bytes());
        }
        at += 4;
    }
    zip
}

/// A sheet whose text cells (`t="s"`) refer to shared strings: the first one's index becomes `index`.
fn break_first_string_index(xml: Vec<u8>, index: &str) -> Vec<u8> {
    let text = String::from_utf8(xml).unwrap_or_default();
    let Some(cell) = text.find(" t=\"s\"") else { return text.into_bytes() };
    let Some(v) = text[cell..].find("<v>").map(|v| cell + v + 3) else { return text.into_bytes() };
    let end = v + text[v..].find("</v>").unwrap_or(0);
    format!("{}{index}{}", &text[..v], &text[end..]).into_bytes()
}

/// An ODS content.xml row of the small export with one attribute added to one element.
fn ods_with(find: &str, replace: &str) -> io::Result<Vec<u8>> {
    let (_, cells) = small_export();
    let good = ods_bytes(Some(&HEADERS), &cells, 0)?;
    rezip(&good, |name, data| {
        if name != "content.xml" {
            return data;
        }
        String::from_utf8(data).unwrap_or_default().replacen(find, replace, 1).into_bytes()
    })
}

pub(super) fn cases(good_xlsx: &[u8]) -> io::Result<Vec<BadCase>> {
    let table = text_table();
    let rows = &table[..];
    let big = 0x7FFF_FFFF;
    Ok(vec![
        bad(
            "38-xls-far-cell.xls",
            xls_bytes(&XlsSheet { globals: &[], rows, dimensions: None, far: &[(65535, 65535, "x")] }),
            "would hold more than 4000000 cells",
            "a valid XLS plus one text cell at row 65536, column 65536: the sheet's used area is 4.3 billion cells (calamine once allocated it whole: 137 GB)",
        ),
        bad(
            "39-ods-columns-repeated.ods",
            ods_with(
                "<table:table-cell office:value-type=\"string\">",
                &format!("<table:table-cell table:number-columns-repeated=\"{big}\" office:value-type=\"string\">"),
            )?,
            "would hold more than 4000000 cells",
            "the header's first cell repeated 2,147,483,647 times across (`table:number-columns-repeated`)",
        ),
        bad(
            "40-ods-rows-repeated.ods",
            ods_with(
                "</table:table-row>\n<table:table-row>",
                &format!("</table:table-row>\n<table:table-row table:number-rows-repeated=\"{big}\">"),
            )?,
            "would hold more than 4000000 cells",
            "the first data row repeated 2,147,483,647 times down (`table:number-rows-repeated`)",
        ),
        bad(
            "41-xlsx-entry-lies-about-size.xlsx",
            lie_about_size(rezip(good_xlsx, |_, d| d)?, "xl/worksheets/sheet1.xml", 1000),
            "inflates to more than the 1000 bytes it declares",
            "the sheet's zip entry declares 1,000 bytes (in its local header and the central directory) and inflates to more",
        ),
        bad(
            "42-xlsx-shared-strings-lie-about-size.xlsx",
            lie_about_size(rezip(good_xlsx, |_, d| d)?, "xl/sharedStrings.xml", 100),
            "inflates to more than the 100 bytes it declares",
            "the shared strings' zip entry declares 100 bytes and inflates to more",
        ),
        bad(
            "43-xlsx-string-index-not-a-number.xlsx",
            rezip(good_xlsx, |name, data| {
                if name == "xl/worksheets/sheet1.xml" { break_first_string_index(data, "-1x") } else { data }
            })?,
            "cell string index is not a number",
            "a text cell whose shared-string index is `-1x` (calamine once read it as index 0: another cell's text)",
        ),
        bad(
            "44-xls-string-index-out-of-range.xls",
            {
                let mut stream = workbook_stream(&XlsSheet { globals: &[], rows, dimensions: None, far: &[] });
                // The last LABELSST's index (the record before the sheet's EOF) points past the table.
                let at = stream.len() - 4 - 4;
                stream[at..at + 4].copy_from_slice(&9999u32.to_le_bytes());
                cfb(stream)
            },
            "a damaged shared string index record",
            "a text cell whose shared-string index is past the table (calamine once read it as an empty cell)",
        ),
    ])
}

/// The small export's ODS with its content.xml declaring `declared` bytes.
fn ods_lying(declared: u32) -> io::Result<Vec<u8>> {
    let (_, cells) = small_export();
    Ok(lie_about_size(rezip(&ods_bytes(Some(&HEADERS), &cells, 0)?, |_, d| d)?, "content.xml", declared))
}

pub(super) fn more_cases() -> io::Result<Vec<BadCase>> {
    let table = text_table();
    let rows = &table[..];
    let sheet = XlsSheet { globals: &[], rows, dimensions: None, far: &[] };
    // BOUNDSHEET's first four bytes are the sheet's offset in the stream.
    let mut past_end = workbook_stream(&sheet);
    let boundsheet = past_end.windows(2).position(|w| w == [0x85, 0x00]).unwrap_or(0) + 4;
    past_end[boundsheet..boundsheet + 4].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
    // A header of 12,000 columns: its line is longer than the 64 KiB the delimiter is sniffed from.
    let wide: Vec<String> =
        HEADERS.iter().map(|h| (*h).to_owned()).chain((0..12_000).map(|i| format!("Extra {i}"))).collect();
    let (text_rows, _) = small_export();
    let wide_rows: Vec<Vec<String>> =
        text_rows.iter().map(|r| r.iter().cloned().chain((0..12_000).map(|_| String::new())).collect()).collect();
    Ok(vec![
        bad(
            "49-header-too-wide.csv",
            csv_text(&wide, &wide_rows, PLAIN).into_bytes(),
            "a row has more than 10000 cells",
            "a header of 12,019 columns, its line longer than the 64 KiB the delimiter is sniffed from (once: `a cell is larger than 65536 bytes`)",
        ),
        bad(
            "45-ods-content-lies-about-size.ods",
            ods_lying(200)?,
            "inflates to more than the 200 bytes it declares",
            "content.xml declares 200 bytes and inflates to more",
        ),
        bad(
            "46-xls-sector-chain-loops.xls",
            cfb_with(workbook_stream(&sheet), true),
            "compound-file structure is damaged",
            "the Workbook stream's sector chain points back to its start (calamine follows chains without cycle detection)",
        ),
        bad(
            "47-xls-encrypted.xls",
            xls_bytes(&XlsSheet { globals: &[(0x002F, &[1, 0, 1, 0, 1, 0])], ..sheet }),
            "encrypted",
            "an XLS with a FILEPASS record: Excel's password protection",
        ),
        bad(
            "48-xls-sheet-offset-past-end.xls",
            cfb(past_end),
            "not a readable xls workbook",
            "BOUNDSHEET places the sheet at byte 16,777,215 of a stream of a few kilobytes",
        ),
    ])
}

pub(super) fn fine_cases() -> io::Result<Vec<BadCase>> {
    let table = text_table();
    let rows = &table[..];
    let (text_rows, _) = small_export();
    let mut blank_first = "\r\n".repeat(40_000);
    blank_first.push_str(&csv_text(&HEADERS, &text_rows, PAYROLL));
    // Keys as they arrive from copy and paste: a zero-width space, fullwidth digits, a bidi mark,
    // a no-break space. Each is the plain key once normalised.
    let mut invisible = text_rows.clone();
    let spoil: [fn(&str) -> String; 4] = [
        |k| format!("{k}\u{200B}"),
        |k| k.chars().map(|c| c.to_digit(10).and_then(|d| char::from_u32(0xFF10 + d)).unwrap_or(c)).collect(),
        |k| format!("\u{200E}{k}"),
        |k| format!("{k}\u{00A0}"),
    ];
    for (row, spoil) in invisible.iter_mut().zip(spoil) {
        row[C_ID] = spoil(&row[C_ID]);
    }
    Ok(vec![
        fine(
            "59-ok-blank-lines-before-header.csv",
            encode(&blank_first, Encoding::Windows1252)?,
            "80,000 bytes of blank lines before a Windows-1252 `;` export: more than the 64 KiB sniffed (once: `no header row found`, read with `,`)",
        ),
        fine(
            "60-ok-keys-with-invisible-characters.csv",
            csv_text(&HEADERS, &invisible, PLAIN).into_bytes(),
            "keys with a zero-width space, fullwidth digits, a left-to-right mark and a no-break space: each normalised to the plain key",
        ),
        fine(
            "57-ok-minimal.xls",
            xls_bytes(&XlsSheet { globals: &[], rows, dimensions: None, far: &[] }),
            "a legacy XLS (BIFF8) built by hand: the header and ten rows of text",
        ),
        fine(
            "58-ok-lying-dimensions.xls",
            xls_bytes(&XlsSheet { globals: &[], rows, dimensions: Some((u32::MAX, u16::MAX)), far: &[] }),
            "the same XLS with a DIMENSIONS record claiming 4,294,967,295 rows × 65,535 columns: only a hint, the cells are read as they are (calamine once reserved 1.1e16 bytes for it)",
        ),
    ])
}
