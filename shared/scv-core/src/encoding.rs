//! Lenient base64, as Node's `Buffer.from(s, "base64")` decodes: padding optional or excessive, standard or
//! URL-safe alphabet, whitespace ignored.

use base64::{
    Engine,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};

const NO_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decodes base64 leniently; `None` when it is not base64 at all.
pub fn decode_base64_lenient(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    NO_PADDING.decode(cleaned.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn padding_is_optional_and_extra_padding_ignored() {
        let text = "Grüß Gott";
        let padded = STANDARD.encode(text);
        assert!(padded.ends_with('='), "{padded}");
        for variant in [
            padded.clone(),
            padded.trim_end_matches('=').to_owned(),
            format!("{padded}=="),
            format!(" {padded}\n"),
        ] {
            assert_eq!(
                decode_base64_lenient(&variant).unwrap(),
                text.as_bytes(),
                "{variant:?}"
            );
        }
    }

    #[test]
    fn url_safe_alphabet_is_accepted_and_garbage_refused() {
        assert_eq!(decode_base64_lenient("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64_lenient("not base64!"), None);
    }
}
