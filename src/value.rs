//! Value: a mapped cell's normalised content, the one type personal data travels in.

use std::fmt;

/// A mapped cell's content after validation and normalisation.
///
/// `Debug` is redacted, and there is deliberately no `Display` or `Serialize`: a value reaches
/// the outside only through `seal` (encrypted) or an explicit `expose` by the subject-access paths.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Value(Box<str>);

impl Value {
    pub fn new(s: impl Into<Box<str>>) -> Value {
        Value(s.into())
    }

    /// The clear text, for sealing, comparing and the explicit subject-access paths only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value(<{} bytes>)", self.0.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_content() {
        let v = Value::new("19121212-1212");
        assert_eq!(format!("{v:?}"), "Value(<13 bytes>)");
    }
}
