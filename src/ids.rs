//! Identifier newtypes: tenants, runs and employee keys are not interchangeable strings.

use std::fmt;

/// A tenant (employer) name as used in mappings, inbox folders and the register.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Tenant names become folder and file names, so only `[a-z0-9_-]`, 1-64 chars.
    pub fn parse(s: &str) -> Result<TenantId, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(TenantId(s.to_owned()))
        } else {
            Err(format!("invalid tenant name `{s}`: use 1-64 of a-z, 0-9, `_` and `-`"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run's id: a UUID v4 as text, so ids sort nowhere and leak nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    pub fn new_random() -> RunId {
        RunId(uuid::Uuid::new_v4().to_string())
    }

    pub fn from_stored(s: String) -> RunId {
        RunId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The register's key for one person within a tenant (the mapping's key field, e.g. `employee_id`).
///
/// The one personal value kept in clear: it names a person only together with the employer's own
/// records, and every other step needs it to match rows. It may appear in the steward UI and
/// `employees show`, never in logs or reports.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmployeeKey(Box<str>);

impl EmployeeKey {
    pub fn new(s: &str) -> EmployeeKey {
        EmployeeKey(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmployeeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmployeeKey(<{} bytes>)", self.0.len())
    }
}
