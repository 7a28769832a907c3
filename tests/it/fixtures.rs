//! The committed fixtures are exactly what `scripts/gen-fixtures` generates from its fixed seed.

#[allow(dead_code)]
#[path = "../../examples/gen_fixtures/generate.rs"]
mod generate;

use std::path::Path;

use crate::support::fixtures;

fn files(dir: &Path, base: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, base, out);
        } else {
            out.push(p.strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

#[test]
fn committed_fixtures_match_the_generator_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    generate::write_fixtures(dir.path()).unwrap();
    let (mut generated, mut committed) = (Vec::new(), Vec::new());
    files(dir.path(), dir.path(), &mut generated);
    files(&fixtures(), &fixtures(), &mut committed);
    generated.sort();
    committed.sort();
    assert_eq!(generated, committed, "the generator and fixtures/ list different files; run scripts/gen-fixtures");
    for f in &generated {
        let a = std::fs::read(dir.path().join(f)).unwrap();
        let b = std::fs::read(fixtures().join(f)).unwrap();
        assert!(a == b, "{} differs from the generator's output; run scripts/gen-fixtures", f.display());
    }
}
