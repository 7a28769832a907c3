//! Seal: per-person encryption (crypto-shredding) and keyed fingerprints of kept values.
//!
//! Key hierarchy: the master key (a file outside the database) wraps one key per tenant; the
//! tenant key wraps one data key per person and per quarantine run; a person's kept values are
//! sealed under their data key. Destroying a data key makes every copy of that person's values
//! unreadable, backups included. Fingerprints (keyed BLAKE3 under a key derived from the tenant
//! key) let `diff` see unchanged rows without decrypting.
//!
//! Sealing is AES-256-GCM with a random 96-bit nonce, behind a format byte. A random nonce of
//! 96 bits is safe for up to 2^32 messages per key; the busiest key, a tenant's, wraps one data
//! key per person and per run. AES-GCM rather than XChaCha20-Poly1305 because a first load seals
//! millions of short messages, each under a fresh key, where AES-NI's set-up is the cheapest
//! (about 0.4 µs against 0.7 µs a message here). Records sealed by earlier versions with
//! XChaCha20-Poly1305 (a bare 24-byte nonce first) stay readable.

use std::hash::Hasher;
use std::io::Write;
use std::path::Path;

use aes_gcm::Aes256Gcm;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ids::TenantId;
use crate::value::Value;

/// The first byte of a record sealed with AES-256-GCM; its 12-byte nonce follows.
const AES_GCM: u8 = 0xA1;
const GCM_NONCE: usize = 12;
/// Records sealed before the format byte: a 24-byte XChaCha20-Poly1305 nonce, then the rest.
const XCHACHA_NONCE: usize = 24;
const TAG: usize = 16;
/// Length of a row fingerprint in bytes: 128 bits is plenty against accidental collisions.
pub const FINGERPRINT: usize = 16;
pub type Fingerprint = [u8; FINGERPRINT];

/// The width of a `CellsPrint`.
pub const CELLS_PRINT: usize = 8;
/// A keyed hash of a row's mapped cells as read, before validation; all zero means none.
pub type CellsPrint = [u8; CELLS_PRINT];
/// The `CellsPrint` of a person stored before cells prints existed (or restored without one).
pub const NO_CELLS_PRINT: CellsPrint = [0; CELLS_PRINT];

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read the master key file {path}: {reason}")]
    MasterKeyFile { path: String, reason: String },
    #[error("a key or sealed value failed authentication (wrong master key, or tampered data)")]
    Authentication,
    #[error("a sealed record is malformed")]
    Malformed,
}

/// 32 secret bytes, wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Secret([u8; 32]);

impl Secret {
    fn random() -> Secret {
        let mut s = [0u8; 32];
        rand::rng().fill_bytes(&mut s);
        Secret(s)
    }

    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + GCM_NONCE + plaintext.len() + TAG);
        out.push(AES_GCM);
        let mut nonce = [0u8; GCM_NONCE];
        rand::rng().fill_bytes(&mut nonce);
        out.extend_from_slice(&nonce);
        // Encryption with a fresh key-sized state cannot fail for inputs below 64 GiB.
        if let Ok(ct) = Aes256Gcm::new((&self.0).into()).encrypt((&nonce).into(), Payload { msg: plaintext, aad }) {
            out.extend_from_slice(&ct);
        }
        out
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        // An older record's random nonce starts with the format byte one time in 256: when the
        // AES-GCM reading fails authentication, the record is read the older way. A forgery
        // would have to pass either cipher's authentication.
        if let [AES_GCM, rest @ ..] = sealed
            && rest.len() >= GCM_NONCE + TAG
        {
            let (nonce, ct) = rest.split_at(GCM_NONCE);
            let cipher = Aes256Gcm::new((&self.0).into());
            if let Ok(plain) = cipher.decrypt(aes_gcm::Nonce::from_slice(nonce), Payload { msg: ct, aad }) {
                return Ok(plain);
            }
        }
        self.open_xchacha(aad, sealed)
    }

    fn open_xchacha(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < XCHACHA_NONCE + TAG {
            return Err(SealError::Malformed);
        }
        let (nonce, ct) = sealed.split_at(XCHACHA_NONCE);
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| SealError::Authentication)
    }

    fn from_slice(b: &[u8]) -> Result<Secret, SealError> {
        let arr: [u8; 32] = b.try_into().map_err(|_| SealError::Malformed)?;
        Ok(Secret(arr))
    }
}

/// The root key, read from the file named in the config; never stored in a database.
pub struct MasterKey(Secret);

impl MasterKey {
    /// Writes a new random master key as hex to `path`, readable by the owner only (0600).
    pub fn create_file(path: &Path) -> std::io::Result<()> {
        let key = Secret::random();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path)?;
        f.write_all(hex::encode(key.0).as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    }

    pub fn load(path: &Path) -> Result<MasterKey, SealError> {
        let fail = |reason: &str| SealError::MasterKeyFile { path: path.display().to_string(), reason: reason.into() };
        // 32 bytes as hex and a newline; anything much larger is not a key file.
        let text = crate::small_file::read_to_string(path, 4096).map_err(|e| fail(&e))?;
        check_private(path).map_err(|e| fail(&e))?;
        let bytes = hex::decode(text.trim()).map_err(|_| fail("not a hex-encoded key"))?;
        Secret::from_slice(&bytes).map(MasterKey).map_err(|_| fail("not 32 bytes"))
    }
}

/// Refuses a key file that group or others may read, as OpenSSH does for private keys: the
/// master key unlocks every person's values.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "it is readable or writable by group or others (mode {mode:04o}); make it private: chmod 600 {}",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// The key of one run's cells prints (see `TenantKeys::cells_key`): a SipHash-2-4 key.
pub struct CellsKey([u8; 16]);

impl Drop for CellsKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl CellsKey {
    /// The print of a row's mapped cells, `encoded` as `validate::encode_cells` writes them;
    /// never `NO_CELLS_PRINT`.
    pub fn print(&self, encoded: &[u8]) -> CellsPrint {
        // SipHash-2-4 is a keyed PRF made for short messages with a 64-bit result, which is what
        // a print is; every row of a day's file is printed, and for a row's 100-200 bytes it
        // costs less than half of BLAKE3 (about 90 against 200 ns here).
        let mut h = siphasher::sip::SipHasher24::new_with_key(&self.0);
        h.write(encoded);
        let mut out = h.finish().to_le_bytes();
        if out == NO_CELLS_PRINT {
            out[0] = 1;
        }
        out
    }
}

/// A tenant's key and the subkeys derived from it.
pub struct TenantKeys {
    tenant: TenantId,
    wrap: Secret,
    fingerprint: [u8; 32],
    hash: [u8; 32],
}

impl Drop for TenantKeys {
    fn drop(&mut self) {
        self.fingerprint.zeroize();
        self.hash.zeroize();
    }
}

impl TenantKeys {
    /// A fresh tenant key, and its wrapped form to store in the key store.
    pub fn generate(master: &MasterKey, tenant: &TenantId) -> (TenantKeys, Vec<u8>) {
        let secret = Secret::random();
        let wrapped = master.0.seal(&tenant_aad(tenant), &secret.0);
        (TenantKeys::derive(tenant, secret), wrapped)
    }

    pub fn unwrap(master: &MasterKey, tenant: &TenantId, wrapped: &[u8]) -> Result<TenantKeys, SealError> {
        let raw = master.0.open(&tenant_aad(tenant), wrapped)?;
        Ok(TenantKeys::derive(tenant, Secret::from_slice(&raw)?))
    }

    fn derive(tenant: &TenantId, secret: Secret) -> TenantKeys {
        let fingerprint = blake3::derive_key("hrfeed 2026 row fingerprint v1", &secret.0);
        let hash = blake3::derive_key("hrfeed 2026 keyed value hash v1", &secret.0);
        TenantKeys { tenant: tenant.clone(), wrap: secret, fingerprint, hash }
    }

    /// The key of the cells prints for rows read under `mapping_digest` from a workbook or not,
    /// by this version of hrfeed: the same cells mean the same values only under the same
    /// mapping, cell rendering and validation code (a new release validates every row once).
    pub fn cells_key(&self, mapping_digest: &[u8; 32], workbook: bool) -> CellsKey {
        let version = env!("CARGO_PKG_VERSION").as_bytes();
        let mut material = Vec::with_capacity(65 + version.len());
        material.extend_from_slice(&self.fingerprint);
        material.extend_from_slice(mapping_digest);
        material.push(u8::from(workbook));
        material.extend_from_slice(version);
        let mut derived = blake3::derive_key("hrfeed 2026 cells print v4 siphash-2-4", &material);
        material.zeroize();
        let mut key = CellsKey([0; 16]);
        key.0.copy_from_slice(&derived[..16]);
        derived.zeroize();
        key
    }

    /// The fingerprint of a row's kept values (the encoded payload), for change detection.
    pub fn fingerprint(&self, payload: &[u8]) -> Fingerprint {
        let h = blake3::keyed_hash(&self.fingerprint, payload);
        let mut out = [0u8; FINGERPRINT];
        out.copy_from_slice(&h.as_bytes()[..FINGERPRINT]);
        out
    }

    /// A keyed hash for values kept only as a hash (`keep = "hash"`) and for tombstones.
    pub fn keyed_hash(&self, value: &str) -> String {
        hex::encode(&blake3::keyed_hash(&self.hash, value.as_bytes()).as_bytes()[..20])
    }

    /// A new data key for `owner` (a person's key or a quarantine run id) and its wrapped form.
    pub fn new_data_key(&self, owner: &str) -> (DataKey, Vec<u8>) {
        let secret = Secret::random();
        let wrapped = self.wrap.seal(&self.owner_aad(owner), &secret.0);
        (DataKey(secret), wrapped)
    }

    pub fn unwrap_data_key(&self, owner: &str, wrapped: &[u8]) -> Result<DataKey, SealError> {
        let raw = self.wrap.open(&self.owner_aad(owner), wrapped)?;
        Ok(DataKey(Secret::from_slice(&raw)?))
    }

    fn owner_aad(&self, owner: &str) -> Vec<u8> {
        [b"hrfeed data key|", self.tenant.as_str().as_bytes(), b"|", owner.as_bytes()].concat()
    }
}

fn tenant_aad(tenant: &TenantId) -> Vec<u8> {
    [b"hrfeed tenant key|", tenant.as_str().as_bytes()].concat()
}

/// One person's (or one quarantine run's) data key.
pub struct DataKey(Secret);

impl DataKey {
    /// Seals `payload`; `aad` binds it to its owner so sealed rows cannot be swapped between people.
    pub fn seal(&self, aad: &str, payload: &[u8]) -> Vec<u8> {
        self.0.seal(aad.as_bytes(), payload)
    }

    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.0.open(aad.as_bytes(), sealed)
    }
}

/// The ordered field names a payload's values belong to. A payload names its layout by an id
/// derived from the names, and the names are stored once per layout (the store's `layouts`
/// table) rather than in every sealed row: that halves the register. A mapping that adds or
/// reorders fields gets a new layout, and what was stored under the old one stays readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    id: LayoutId,
    names: Vec<String>,
}

/// A layout's id: 8 bytes of an unkeyed BLAKE3 of its names (names are not personal data).
pub type LayoutId = [u8; 8];

/// First byte of every payload: its encoding version.
const PAYLOAD_V2: u8 = 2;

impl Layout {
    pub fn new(names: Vec<String>) -> Layout {
        let text = names_text(&names);
        let mut id = [0u8; 8];
        id.copy_from_slice(&blake3::derive_key("hrfeed 2026 payload layout v1", text.as_bytes())[..8]);
        Layout { id, names }
    }

    /// Rebuilds a stored layout, checking that its names still give its id.
    pub fn from_stored(id: &[u8], text: &str) -> Result<Layout, SealError> {
        let names: Vec<String> = serde_json::from_str(text).map_err(|_| SealError::Malformed)?;
        let layout = Layout::new(names);
        if layout.id.as_slice() == id { Ok(layout) } else { Err(SealError::Malformed) }
    }

    pub fn id(&self) -> LayoutId {
        self.id
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The names as stored: a JSON array, so any name (even one holding a newline) survives.
    pub fn to_text(&self) -> String {
        names_text(&self.names)
    }
}

fn names_text(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_default()
}

/// Encodes values as a sealed payload: version, layout id, then per field a varint of the
/// value's length plus one (0 = empty) and the value's bytes. `skip` leaves out one field (the
/// register's key, which is stored in clear beside the payload).
pub fn encode(layout: &Layout, values: &[Option<Value>], skip: Option<usize>, out: &mut Vec<u8>) {
    out.clear();
    out.push(PAYLOAD_V2);
    out.extend_from_slice(&layout.id);
    for (i, value) in values.iter().enumerate() {
        if Some(i) == skip {
            continue;
        }
        match value {
            Some(v) => {
                let b = v.expose().as_bytes();
                put_varint(out, b.len() as u64 + 1);
                out.extend_from_slice(b);
            }
            None => out.push(0),
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn take_varint(b: &mut &[u8]) -> Result<u64, SealError> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first().ok_or(SealError::Malformed)?;
        *b = rest;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(SealError::Malformed)
}

/// Decodes a payload written by [`encode`]: its layout id and its values in layout order.
pub fn decode(mut b: &[u8]) -> Result<(LayoutId, Vec<Option<Value>>), SealError> {
    let (&version, rest) = b.split_first().ok_or(SealError::Malformed)?;
    if version != PAYLOAD_V2 || rest.len() < 8 {
        return Err(SealError::Malformed);
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&rest[..8]);
    b = &rest[8..];
    let mut values = Vec::new();
    while !b.is_empty() {
        let len = take_varint(&mut b)?;
        if len == 0 {
            values.push(None);
            continue;
        }
        let len = usize::try_from(len - 1).map_err(|_| SealError::Malformed)?;
        if b.len() < len {
            return Err(SealError::Malformed);
        }
        let (s, rest) = b.split_at(len);
        b = rest;
        values.push(Some(Value::new(std::str::from_utf8(s).map_err(|_| SealError::Malformed)?)));
    }
    Ok((id, values))
}

/// Pairs decoded values with their layout's names; fails when the counts disagree.
pub fn named(layout: &Layout, values: Vec<Option<Value>>) -> Result<Vec<(String, Option<Value>)>, SealError> {
    if layout.names.len() != values.len() {
        return Err(SealError::Malformed);
    }
    Ok(layout.names.iter().cloned().zip(values).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn cells_prints_depend_on_the_encoded_cells_the_mapping_and_the_rendering() {
        let master = MasterKey(Secret([7; 32]));
        let (keys, _) = TenantKeys::generate(&master, &tenant());
        let print = |key: &CellsKey, cells: &[&str]| {
            let mut buf = Vec::new();
            for c in cells {
                buf.extend_from_slice(&(c.len() as u64).to_le_bytes());
                buf.extend_from_slice(c.as_bytes());
            }
            key.print(&buf)
        };
        let csv = keys.cells_key(&[1; 32], false);
        let same = print(&csv, &["001", "Åsa"]);
        assert_eq!(same, print(&keys.cells_key(&[1; 32], false), &["001", "Åsa"]));
        assert_ne!(same, NO_CELLS_PRINT);
        assert_ne!(same, print(&csv, &["001", "Åsa "]));
        assert_ne!(same, print(&csv, &["001Å", "sa"]), "cell boundaries count");
        assert_ne!(same, print(&keys.cells_key(&[2; 32], false), &["001", "Åsa"]), "another mapping");
        assert_ne!(same, print(&keys.cells_key(&[1; 32], true), &["001", "Åsa"]), "a workbook");
        let (other, _) = TenantKeys::generate(&master, &tenant());
        assert_ne!(same, print(&other.cells_key(&[1; 32], false), &["001", "Åsa"]), "another tenant key");
    }

    #[test]
    fn a_person_round_trips_and_a_wrong_owner_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        MasterKey::create_file(&path).unwrap();
        let master = MasterKey::load(&path).unwrap();
        let (keys, wrapped) = TenantKeys::generate(&master, &tenant());
        let keys2 = TenantKeys::unwrap(&master, &tenant(), &wrapped).unwrap();
        let (dk, wdk) = keys.new_data_key("000123");
        let mut payload = Vec::new();
        let layout = Layout::new(vec!["a".into(), "b".into()]);
        encode(&layout, &[Some(Value::new("Åsa")), None], None, &mut payload);
        let sealed = dk.seal("acme|000123", &payload);
        assert!(!sealed.windows(4).any(|w| w == "Åsa".as_bytes()));
        let dk2 = keys2.unwrap_data_key("000123", &wdk).unwrap();
        let (id, values) = decode(&dk2.open("acme|000123", &sealed).unwrap()).unwrap();
        assert_eq!(id, layout.id());
        let stored = Layout::from_stored(&id, &layout.to_text()).unwrap();
        assert_eq!(named(&stored, values).unwrap(), vec![("a".into(), Some(Value::new("Åsa"))), ("b".into(), None)]);
        assert!(keys2.unwrap_data_key("000124", &wdk).is_err());
        assert!(dk2.open("acme|000124", &sealed).is_err());
        assert_eq!(keys.fingerprint(&payload), keys2.fingerprint(&payload));
    }

    /// A record as versions before the format byte sealed it: XChaCha20-Poly1305, nonce first.
    fn xchacha_record(key: &Secret, nonce: [u8; XCHACHA_NONCE], aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let ct = XChaCha20Poly1305::new((&key.0).into())
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .unwrap();
        [&nonce[..], &ct].concat()
    }

    #[test]
    fn records_are_aes_gcm_and_older_xchacha_records_stay_readable() {
        let key = Secret::random();
        let sealed = key.seal(b"acme|1", b"values");
        assert_eq!(sealed[0], AES_GCM);
        assert_eq!(sealed.len(), 1 + GCM_NONCE + b"values".len() + TAG);
        assert_eq!(key.open(b"acme|1", &sealed).unwrap(), b"values");
        // Any changed byte, the format byte and the nonce included, fails authentication.
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(key.open(b"acme|1", &bad).is_err(), "byte {i}");
        }
        assert!(key.open(b"acme|2", &sealed).is_err());
        // Older records, also one whose random nonce begins with the format byte.
        for first in [0x00, AES_GCM, 0xFF] {
            let mut nonce = [7u8; XCHACHA_NONCE];
            nonce[0] = first;
            let old = xchacha_record(&key, nonce, b"acme|1", b"older values");
            assert_eq!(key.open(b"acme|1", &old).unwrap(), b"older values", "nonce starting {first:#x}");
            assert!(key.open(b"acme|2", &old).is_err());
        }
        assert!(matches!(key.open(b"acme|1", &[AES_GCM; 20]), Err(SealError::Malformed)));
    }

    #[test]
    fn decode_rejects_garbage_without_panicking() {
        let head = [2u8, 0, 0, 0, 0, 0, 0, 0, 0];
        for tail in [&[5u8, b'a'][..], &[0x80], &[255; 11], &[3, 0xff, 0xfe]] {
            assert!(decode(&[&head[..], tail].concat()).is_err());
        }
        for b in [&[][..], &[1u8], &[2, 0, 0]] {
            assert!(decode(b).is_err());
        }
    }

    #[test]
    fn payload_round_trips_long_values_and_skips_the_key() {
        let layout = Layout::new(vec!["name".into(), "note".into(), "phone".into()]);
        let long = "x".repeat(300);
        let values = [Some(Value::new("K1")), Some(Value::new("Åsa")), Some(Value::new(long.as_str())), None];
        let mut out = Vec::new();
        encode(&layout, &values, Some(0), &mut out);
        let (id, got) = decode(&out).unwrap();
        assert_eq!(id, layout.id());
        assert_eq!(got, values[1..].to_vec());
        assert!(Layout::from_stored(&id, r#"["name","other"]"#).is_err());
        assert!(Layout::from_stored(&id, "not json").is_err());
        // Names holding the characters a joined form would split on come back whole.
        let odd = Layout::new(vec!["a\nb".into(), String::new(), "c,\"d".into()]);
        assert_eq!(Layout::from_stored(&odd.id(), &odd.to_text()).unwrap(), odd);
        assert_ne!(Layout::new(vec![String::new()]).id(), Layout::new(vec![]).id());
    }
}
