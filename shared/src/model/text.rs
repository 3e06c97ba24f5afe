//! Turkish-aware text folding for search.
//!
//! People type without Turkish letters and in any case: "istanbul", "İSTANBUL" and
//! "Istanbul" must all find "İstanbul"; "isparta" and "ısparta" find "ISPARTA"; "cankaya"
//! finds "Çankaya"; "sisli" finds "Şişli". So text is folded the same way on both sides:
//! lowercase by Turkish rules (İ→i, I→ı), then the Turkish letters to their plain forms
//! (ı→i, ş→s, ç→c, ğ→g, ö→o, ü→u, and â/î/û). Generic Unicode lowercasing gets this wrong
//! ("I"→"i", "İ"→"i̇" with a combining dot), which is why this is done here, not in SQL.

/// Folds text for matching: Turkish lowercase, then Turkish letters to ASCII.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'I' | 'ı' | 'İ' | 'i' | 'î' | 'Î' => out.push('i'),
            'Ş' | 'ş' => out.push('s'),
            'Ç' | 'ç' => out.push('c'),
            'Ğ' | 'ğ' => out.push('g'),
            'Ö' | 'ö' => out.push('o'),
            'Ü' | 'ü' | 'û' | 'Û' => out.push('u'),
            'Â' | 'â' => out.push('a'),
            '\u{307}' => {} // a combining dot above (from a decomposed İ)
            other => out.extend(other.to_lowercase()),
        }
    }
    out
}

/// Folded words of a text, split on anything that is not a letter or digit.
pub fn words(text: &str) -> Vec<String> {
    fold(text).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Whether `text` matches a search typed by a person: every word of the search must be a
/// word of the text, the last one as a prefix ("ayş" finds "Ayşe"). An empty search matches.
pub fn matches(text: &str, search: &str) -> bool {
    let terms = words(search);
    let Some((last, full)) = terms.split_last() else {
        return true;
    };
    let text_words = words(text);
    full.iter().all(|t| text_words.contains(t)) && text_words.iter().any(|w| w.starts_with(last.as_str()))
}

/// Levenshtein distance between two short names (for "did you mean …?" hints).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            prev = current;
        }
    }
    row[b.len()]
}

/// Milliseconds since the Unix epoch as an ISO-8601 UTC timestamp
/// (`2026-11-25T14:45:00.000Z`), the format the reference app stores dates in.
pub fn iso_timestamp(ms: f64) -> String {
    let ms = if ms.is_finite() { ms.max(0.0) as i64 } else { 0 };
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1_000 % 60, rest % 1_000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// A stable 64-bit FNV-1a hash of a text, as 16 hex digits: equal texts hash equal on every
/// platform (schema hashes, result hashes over canonical JSON).
pub fn hash_text(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// At most `max_chars` characters of `text`, with "…" where it was cut: what an error
/// message may quote of something a caller sent (a frame of a megabyte must not come back
/// in the answer).
pub fn elide(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elided_text_keeps_whole_characters() {
        assert_eq!(elide("şişli", 3), "şiş…");
        assert_eq!(elide("şişli", 5), "şişli");
        assert_eq!(elide("", 0), "");
        assert_eq!(elide("ab", 0), "…");
    }

    #[test]
    fn iso_timestamps() {
        assert_eq!(iso_timestamp(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_timestamp(1_764_081_900_123.0), "2025-11-25T14:45:00.123Z");
        assert_eq!(iso_timestamp(951_782_400_000.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_timestamp(f64::NAN), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn turkish_case_and_letters_fold_together() {
        for typed in ["istanbul", "İSTANBUL", "Istanbul", "ıstanbul"] {
            assert!(matches("İstanbul", typed), "{typed}");
        }
        for typed in ["isparta", "ısparta", "Isparta"] {
            assert!(matches("ISPARTA", typed), "{typed}");
        }
        assert!(matches("Çankaya", "cankaya"));
        assert!(matches("Şişli", "sisli"));
        assert!(matches("Ayşe Yılmaz", "ayş"));
        assert!(matches("Ayşe Yılmaz", "ayse yil"));
        assert!(!matches("Ayşe Yılmaz", "yil ayse"), "only the last word is a prefix");
        assert!(matches("Ayşe Yılmaz", "yilmaz ays"));
        assert!(!matches("Mehmet", "ayşe"));
        assert!(matches("anything", "  "));
        assert_eq!(fold("İ\u{307}"), "i");
    }
}
