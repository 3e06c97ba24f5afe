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

#[cfg(test)]
mod tests {
    use super::*;

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
