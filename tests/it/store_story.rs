//! One store story, written once and told to both backends.

use hrfeed::diff::Class;
use hrfeed::ids::{EmployeeKey, RunId, TenantId};
use hrfeed::store::{
    Apply, Batch, NewKey, PersonWrite, QuarantineRow, RunRecord, RunStatus, Store, StoreError, prints,
};

use crate::support::{Backend, PgDb};

fn run_record(id: &RunId, tenant: &TenantId, sha: &str, status: RunStatus) -> RunRecord {
    RunRecord {
        id: id.clone(),
        tenant: tenant.clone(),
        file_name: "day1.csv".into(),
        sha256: sha.into(),
        status,
        started_at: "2026-11-23T10:00:00+00:00".into(),
        finished_at: "2026-11-23T10:00:01+00:00".into(),
        report: "{}".into(),
        reprocess_of: None,
    }
}

fn person(key: &str, key_id: u8, class: Class, delete_on: Option<&str>) -> PersonWrite {
    PersonWrite {
        key: EmployeeKey::new(key),
        class,
        key_id: vec![key_id; 16],
        fingerprint: [key_id; 16],
        cells: [key_id; 8],
        ended: delete_on.is_some(),
        sealed: vec![9, 9, key_id],
        fields: if class == Class::New { vec![] } else { vec!["department".into()] },
        delete_on: delete_on.map(str::to_owned),
    }
}

async fn story<S: Store>(s: S) {
    let acme = TenantId::parse("acme").unwrap();
    let other = TenantId::parse("other").unwrap();

    // Tenant keys: the first stored wins.
    assert_eq!(s.tenant_key(&acme).await.unwrap(), None);
    assert_eq!(s.put_tenant_key(&acme, b"first", "now").await.unwrap(), b"first");
    assert_eq!(s.put_tenant_key(&acme, b"second", "now").await.unwrap(), b"first");

    // An apply that is dropped before commit leaves nothing behind.
    let run0 = RunId::new_random();
    {
        let mut a = s.begin_apply(&acme, &run0, &[0xEE; 12]).await.unwrap();
        a.put_layout(&hrfeed::seal::Layout::new(vec!["dropped".into()])).await.unwrap();
        let batch = Batch {
            keys: vec![NewKey { key_id: vec![7; 16], wrapped: vec![1] }],
            people: vec![person("007", 7, Class::New, None)],
            ..Batch::default()
        };
        a.write(&batch).await.unwrap();
    }
    assert!(hrfeed::store::register(&s, &acme).await.unwrap().is_empty());

    // Day 1: two new people, one rejected row; committed with its run.
    let run1 = RunId::new_random();
    let mut a = s.begin_apply(&acme, &run1, &[0xEE; 12]).await.unwrap();
    let layout = hrfeed::seal::Layout::new(vec!["department".into(), "end_date".into()]);
    a.put_layout(&layout).await.unwrap();
    a.put_layout(&layout).await.unwrap();
    a.write(&Batch {
        keys: vec![
            NewKey { key_id: vec![1; 16], wrapped: vec![11] },
            NewKey { key_id: vec![2; 16], wrapped: vec![22] },
            NewKey { key_id: vec![3; 16], wrapped: vec![33] },
        ],
        people: vec![person("001", 1, Class::New, None), person("002", 2, Class::New, Some("2027-03-31"))],
        quarantine: vec![QuarantineRow {
            row: 3,
            line: 4,
            key: Some(EmployeeKey::new("003")),
            errors: "[]".into(),
            key_id: vec![3; 16],
            sealed: vec![5],
        }],
        missing: vec![],
    })
    .await
    .unwrap();
    a.commit(&run_record(&run1, &acme, "aaa", RunStatus::Applied)).await.unwrap();

    let register = hrfeed::store::register(&s, &acme).await.unwrap();
    assert_eq!(register.len(), 2);
    assert_eq!(register.get(&EmployeeKey::new("001")), Some(([1; 16], false)));
    assert_eq!(register.get(&EmployeeKey::new("002")).map(|e| e.1), Some(true));
    assert_eq!(s.layouts().await.unwrap(), vec![layout.clone()], "a layout is stored once");
    assert!(hrfeed::store::register(&s, &other).await.unwrap().is_empty(), "tenants are separate");

    let sealed = s.load_sealed(&acme, &[EmployeeKey::new("002"), EmployeeKey::new("404")]).await.unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!((sealed[0].sealed.clone(), sealed[0].wrapped_key.clone()), (vec![9, 9, 2], vec![22]));

    assert_eq!(s.applied_run_by_hash(&acme, "aaa").await.unwrap(), Some(run1.clone()));
    assert_eq!(s.applied_run_by_hash(&other, "aaa").await.unwrap(), None);

    // The same content cannot be applied twice, even by a concurrent run.
    let run2 = RunId::new_random();
    let a = s.begin_apply(&acme, &run2, &[0xEE; 12]).await.unwrap();
    let err = a.commit(&run_record(&run2, &acme, "aaa", RunStatus::Applied)).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyApplied), "{err:?}");

    // Day 2: 002 is rehired (deletion cancelled), 001 changes, and a missing entry; then 001's
    // cells print alone moves (its values came written another way): the overlay holds it.
    let run3 = RunId::new_random();
    let mut a = s.begin_apply(&acme, &run3, &[0xEE; 12]).await.unwrap();
    a.write(&Batch {
        people: vec![person("001", 1, Class::Changed, None), person("002", 2, Class::Rehired, None)],
        missing: vec![EmployeeKey::new("009")],
        ..Batch::default()
    })
    .await
    .unwrap();
    let moved = [0xFF, 0, 0x1E, 1, 2, 3, 4, 5];
    a.replace_prints(prints::pack([("001", moved), ("404", moved)].into_iter())).await.unwrap();
    a.commit(&run_record(&run3, &acme, "bbb", RunStatus::Applied)).await.unwrap();
    let register = hrfeed::store::register(&s, &acme).await.unwrap();
    assert_eq!(register.cells(&EmployeeKey::new("001")), Some(moved));
    assert_eq!(register.get(&EmployeeKey::new("001")), Some(([1; 16], false)), "only the print moved");
    assert_eq!(register.cells(&EmployeeKey::new("002")), Some([2; 8]));
    assert_eq!(register.len(), 2, "an overlay entry of someone not stored adds no one");
    // An overlay replaced in a run that is rolled back stays.
    let run_undo = RunId::new_random();
    let mut a = s.begin_apply(&acme, &run_undo, &[0xEE; 12]).await.unwrap();
    a.replace_prints(std::iter::empty()).await.unwrap();
    drop(a);
    let register = hrfeed::store::register(&s, &acme).await.unwrap();
    assert_eq!(register.cells(&EmployeeKey::new("001")), Some(moved), "a rolled-back replacement changes nothing");
    s.record_run(&run_record(&RunId::new_random(), &acme, "bbb", RunStatus::Duplicate)).await.unwrap();

    let history = s.history(&acme, &EmployeeKey::new("001")).await.unwrap();
    let kinds: Vec<(&str, &str)> = history.iter().map(|h| (h.kind.as_str(), h.fields.as_str())).collect();
    assert_eq!(kinds, vec![("new", ""), ("changed", "department")]);
    assert_eq!(s.list_runs(Some(&acme), 10).await.unwrap().len(), 3);
    assert_eq!(s.list_runs(Some(&other), 10).await.unwrap().len(), 0);
    let got = s.get_run(run3.as_str()).await.unwrap().unwrap();
    assert_eq!((got.status, got.sha256.as_str()), (RunStatus::Applied, "bbb"));

    let counts: std::collections::BTreeMap<String, i64> = s.table_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts["employees"], 2);
    assert_eq!(counts["deletions"], 0, "the rehire cancelled the scheduled deletion");
    assert_eq!(counts["quarantine"], 1);
    assert_eq!(counts["data_keys"], 3, "the dropped apply's key is gone");
    assert_eq!(counts["history"], 3, "new people have no history row; their register row says when");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn sqlite_store_story() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let s = hrfeed::store::SqliteStore::open(&dir.path().join("r.db"), &dir.path().join("k.db")).await.unwrap();
        story(s).await;
    });
}

#[test]
fn postgres_store_story() {
    let _ = Backend::Postgres;
    let Some(db) = PgDb::create() else { return };
    runtime().block_on(async {
        let s = hrfeed::store::PgStore::open(&db.url, None).await.unwrap();
        story(s.clone()).await;
        s.close().await;
    });
}

/// Keys with separators, quotes and non-ASCII text load back exactly, with their fingerprints,
/// and compared people come back sealed with their wrapped keys (the packed SQLite paths).
async fn odd_keys<S: Store>(s: S) {
    let acme = TenantId::parse("acme").unwrap();
    let keys = ["plain", "with\u{1e}separator", "semi;colon:1", "Åsa \"q\"", "x"];
    let run = RunId::new_random();
    let mut a = s.begin_apply(&acme, &run, &[0xEE; 12]).await.unwrap();
    // Sealed records and wrapped keys are any bytes: NUL, the packing's separators, 0xFF.
    let odd_bytes = |i: usize| vec![0, b':', 0xFF, b';', i as u8];
    let people: Vec<PersonWrite> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| PersonWrite { sealed: odd_bytes(i), ..person(k, i as u8 + 1, Class::New, None) })
        .collect();
    let new_keys = (0..keys.len())
        .map(|i| NewKey { key_id: vec![i as u8 + 1; 16], wrapped: [odd_bytes(i), vec![1]].concat() })
        .collect();
    a.write(&Batch { keys: new_keys, people, ..Batch::default() }).await.unwrap();
    a.commit(&run_record(&run, &acme, "odd", RunStatus::Applied)).await.unwrap();

    let register = hrfeed::store::register(&s, &acme).await.unwrap();
    assert_eq!(register.len(), keys.len());
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(register.get(&EmployeeKey::new(k)), Some(([i as u8 + 1; 16], false)), "{k:?}");
    }
    let wanted: Vec<EmployeeKey> = keys.iter().map(|k| EmployeeKey::new(k)).collect();
    let mut sealed = s.load_sealed(&acme, &wanted).await.unwrap();
    sealed.sort_by_key(|p| p.key_id.clone());
    let got: Vec<(&str, Vec<u8>, Vec<u8>)> =
        sealed.iter().map(|p| (p.key.as_str(), p.sealed.clone(), p.wrapped_key.clone())).collect();
    let want: Vec<(&str, Vec<u8>, Vec<u8>)> =
        keys.iter().enumerate().map(|(i, k)| (*k, odd_bytes(i), [odd_bytes(i), vec![1]].concat())).collect();
    assert_eq!(got, want);
}

/// A register of several SQLite pages (50,000 people each) comes back whole, odd keys in the
/// middle of a page and at a page's end included.
async fn large_register<S: Store>(s: S) {
    let acme = TenantId::parse("acme").unwrap();
    let run = RunId::new_random();
    let mut keys: Vec<String> = (0..110_000).map(|i| format!("k{i:06}")).collect();
    keys.extend(["k022500\u{1e}odd".to_owned(), "k022500;x:1".to_owned(), "k0225005".to_owned()]);
    // Sorted, these make the 50,000th key one with a multi-byte character.
    keys.push("k049995ÿ".to_owned());
    let fp = |i: usize| -> [u8; 16] {
        let mut f = [0u8; 16];
        f[..8].copy_from_slice(&(i as u64).to_le_bytes());
        f
    };
    let mut a = s.begin_apply(&acme, &run, &[0xEE; 12]).await.unwrap();
    for (c, chunk) in keys.chunks(5000).enumerate() {
        let people = chunk
            .iter()
            .enumerate()
            .map(|(j, k)| PersonWrite {
                fingerprint: fp(c * 5000 + j),
                cells: fp(c * 5000 + j)[..8].try_into().unwrap(),
                ended: j % 7 == 0,
                ..person(k, 1, Class::New, None)
            })
            .collect();
        a.write(&Batch { people, ..Batch::default() }).await.unwrap();
    }
    a.commit(&run_record(&run, &acme, "large", RunStatus::Applied)).await.unwrap();
    let register = hrfeed::store::register(&s, &acme).await.unwrap();
    assert_eq!(register.len(), keys.len());
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(register.get(&EmployeeKey::new(k)), Some((fp(i), (i % 5000) % 7 == 0)), "{k:?}");
        assert_eq!(register.cells(&EmployeeKey::new(k)).map(|c| c.to_vec()), Some(fp(i)[..8].to_vec()), "{k:?}");
    }
}

#[test]
fn sqlite_large_register() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let s = hrfeed::store::SqliteStore::open(&dir.path().join("r.db"), &dir.path().join("k.db")).await.unwrap();
        large_register(s).await;
    });
}

#[test]
fn postgres_large_register() {
    let Some(db) = PgDb::create() else { return };
    runtime().block_on(async {
        let s = hrfeed::store::PgStore::open(&db.url, None).await.unwrap();
        large_register(s.clone()).await;
        s.close().await;
    });
}

#[test]
fn sqlite_odd_keys() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let s = hrfeed::store::SqliteStore::open(&dir.path().join("r.db"), &dir.path().join("k.db")).await.unwrap();
        odd_keys(s).await;
    });
}

#[test]
fn postgres_odd_keys() {
    let Some(db) = PgDb::create() else { return };
    runtime().block_on(async {
        let s = hrfeed::store::PgStore::open(&db.url, None).await.unwrap();
        odd_keys(s.clone()).await;
        s.close().await;
    });
}
