//! Makes text from a file (column and file names, cell values) safe to print on a terminal:
//! control characters would move the cursor or clear the screen (`ESC[2J`), and bidirectional
//! overrides (U+202E) would show text other than what is there.

use std::borrow::Cow;

/// `text` with every control, bidi and other invisible format character written as `\u{…}`.
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `safe` for each line of `text`, keeping its line breaks.
pub fn safe_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.split('\n').map(safe).collect::<Vec<_>>().join("\n"))
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(safe("Förnamn"), "Förnamn");
        assert_eq!(safe("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(safe("x\u{202e}y\tz\u{9b}"), "x\\u{202e}y\\u{9}z\\u{9b}");
        assert!(matches!(safe("plain"), Cow::Borrowed(_)));
        assert_eq!(safe_lines("a\u{1b}\nb\n"), "a\\u{1b}\nb\n");
    }
}
