//! Sensitive-data detector: column names (Swedish and English) that reveal special or extra
//! protection-worthy categories, and personnummer-like values in free text.

use super::types;

/// (word stem, category): a normalised column name is sensitive when one of its words contains a stem.
/// Stems are long enough not to hit ordinary HR columns ("tro" alone would catch "kontroll").
const STEMS: &[(&str, &str)] = &[
    ("fackförbund", "union membership"),
    ("fackanslut", "union membership"),
    ("fackmedlem", "union membership"),
    ("facklig", "union membership"),
    ("union", "union membership"),
    ("sjuk", "health"),
    ("sick", "health"),
    ("health", "health"),
    ("hälsa", "health"),
    ("diagnos", "health"),
    ("medical", "health"),
    ("medicin", "health"),
    ("handikapp", "health"),
    ("funktionsneds", "health"),
    ("disabilit", "health"),
    ("religion", "religion"),
    ("trosuppfattning", "religion"),
    ("religious", "religion"),
    ("etnisk", "ethnic origin"),
    ("ethnic", "ethnic origin"),
    ("ursprung", "ethnic origin"),
    ("race", "ethnic origin"),
    ("racial", "ethnic origin"),
    ("politisk", "political opinions"),
    ("political", "political opinions"),
    ("sexuell", "sex life"),
    ("sexual", "sex life"),
    ("läggning", "sex life"),
    ("genetisk", "genetic"),
    ("genetic", "genetic"),
    ("biometri", "biometric"),
    ("biometric", "biometric"),
    ("fingeravtryck", "biometric"),
    ("fingerprint", "biometric"),
    ("personnummer", "identity number"),
    ("personnr", "identity number"),
    ("samordningsnummer", "identity number"),
    ("ssn", "identity number"),
    ("brott", "offences"),
    ("criminal", "offences"),
    ("offence", "offences"),
    ("offense", "offences"),
    ("belastningsregist", "offences"),
    ("lagöverträd", "offences"),
    ("skuld", "economic circumstances"),
    ("kronofogde", "economic circumstances"),
    ("debt", "economic circumstances"),
    ("socialbidrag", "social circumstances"),
    ("omdöme", "assessments"),
    ("bedömning", "assessments"),
    ("assessment", "assessments"),
    ("testresultat", "test results"),
];

/// Whole-name phrases that are sensitive although no single word is.
const PHRASES: &[(&str, &str)] = &[
    ("national id", "identity number"),
    ("personal identity number", "identity number"),
    ("social security", "identity number"),
    ("test result", "test results"),
    ("sick leave", "health"),
];

/// The sensitive category a normalised column name reveals, if any; `extra` holds a tenant's own
/// lower-case words.
pub fn column_category(normalised: &str, extra: &[String]) -> Option<&'static str> {
    for (phrase, category) in PHRASES {
        if normalised.contains(phrase) {
            return Some(category);
        }
    }
    for word in normalised.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        // Short stems match at the start of a word only ("union" but not "reunion").
        let hit = |stem: &str| if stem.chars().count() < 6 { word.starts_with(stem) } else { word.contains(stem) };
        if let Some((_, category)) = STEMS.iter().find(|(stem, _)| hit(stem)) {
            return Some(category);
        }
        if extra.iter().any(|e| word.contains(e.as_str())) {
            return Some("tenant-declared sensitive");
        }
    }
    None
}

/// Whether free text holds something that looks like an identity number.
pub fn text_holds_identity_number(text: impl AsRef<[u8]>) -> bool {
    types::contains_personnummer_like(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn check(name: &str, expected: Option<&str>) {
        let n = crate::read::normalise_header(name);
        assert_eq!(column_category(&n, &[]), expected, "{name}");
    }

    #[test]
    fn reference_export_columns() {
        check("Fackförbund", Some("union membership"));
        check("Sjukfrånvaro (dagar)", Some("health"));
        check("Personnummer", Some("identity number"));
        check("Union member", Some("union membership"));
        check("National ID", Some("identity number"));
        check("Anteckning", None);
        check("Hemadress", None);
        check("Förnamn", None);
        check("Organisationsenhet", None);
        check("Kostnadsställe", None);
        check("Anställningsform", None);
        check("Månadslön", None);
        check("Kontrollsumma", None);
        check("Reunion date", None);
        check("Trace id", None);
    }

    #[test]
    fn tenant_words_extend_the_list() {
        assert_eq!(column_category("vaccinationsstatus", &["vaccin".to_owned()]), Some("tenant-declared sensitive"));
    }
}
