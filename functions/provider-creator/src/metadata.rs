//! SAML metadata documents: checked before IAM sees them, compared without the parts that change on every
//! download.

/// Why a document is not identity-provider metadata IAM can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the SAML metadata is not well-formed XML: {0}")]
    NotXml(String),
    #[error("the SAML metadata's root element is {0}, not a SAML 2.0 md:EntityDescriptor")]
    NotEntityDescriptor(String),
    #[error("the SAML metadata has no IDPSSODescriptor: it does not describe an identity provider")]
    NotIdentityProvider,
    #[error("the SAML metadata is {0} bytes; IAM takes 1,000 to 10,000,000")]
    Size(usize),
}

const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// Checks that `xml` is a SAML 2.0 `EntityDescriptor` with an `IDPSSODescriptor`, of a size IAM accepts.
pub fn validate(xml: &str) -> Result<(), MetadataError> {
    if !(1_000..=10_000_000).contains(&xml.len()) {
        return Err(MetadataError::Size(xml.len()));
    }
    let document = roxmltree::Document::parse(xml).map_err(|e| MetadataError::NotXml(e.to_string()))?;
    let root = document.root_element();
    if root.tag_name().name() != "EntityDescriptor" || root.tag_name().namespace() != Some(METADATA_NS) {
        let name = match root.tag_name().namespace() {
            Some(ns) => format!("{{{ns}}}{}", root.tag_name().name()),
            None => root.tag_name().name().to_owned(),
        };
        return Err(MetadataError::NotEntityDescriptor(name));
    }
    let is_idp = root
        .descendants()
        .any(|n| n.tag_name().name() == "IDPSSODescriptor" && n.tag_name().namespace() == Some(METADATA_NS));
    if is_idp {
        Ok(())
    } else {
        Err(MetadataError::NotIdentityProvider)
    }
}

/// `xml` without whitespace and without `validUntil="…"` attributes, which IAM and Salesforce rewrite.
pub fn normalize(xml: &str) -> String {
    let compact: String = xml.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = String::with_capacity(compact.len());
    let mut rest = compact.as_str();
    while let Some(start) = rest.find("validUntil=") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "validUntil=".len()..];
        let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'');
        match quote.and_then(|q| after[1..].find(q).map(|end| &after[end + 2..])) {
            Some(remaining) => rest = remaining,
            None => {
                out.push_str("validUntil=");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether two metadata documents say the same thing (ignoring whitespace and `validUntil`).
pub fn same_document(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(extra: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://example.my.salesforce.com" validUntil="2036-11-23T10:00:00.000Z">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://example.my.salesforce.com/idp/endpoint/HttpPost"/>{extra}
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#,
            "MIIC".repeat(300)
        )
    }

    #[test]
    fn identity_provider_metadata_is_accepted() {
        validate(&metadata("")).unwrap();
    }

    #[test]
    fn other_documents_are_refused_with_a_reason() {
        assert!(matches!(
            validate(&format!("{}<", metadata(""))),
            Err(MetadataError::NotXml(_))
        ));
        let sp = metadata("").replace("IDPSSODescriptor", "SPSSODescriptor");
        assert_eq!(validate(&sp), Err(MetadataError::NotIdentityProvider));
        let html = format!("<html><body>{}</body></html>", "x".repeat(1_000));
        assert_eq!(
            validate(&html),
            Err(MetadataError::NotEntityDescriptor("html".into()))
        );
        let wrong_ns = metadata("").replace("urn:oasis:names:tc:SAML:2.0:metadata", "urn:example");
        assert!(matches!(
            validate(&wrong_ns),
            Err(MetadataError::NotEntityDescriptor(_))
        ));
        assert_eq!(validate("<md:EntityDescriptor/>"), Err(MetadataError::Size(22)));
    }

    #[test]
    fn comparison_ignores_whitespace_and_valid_until() {
        let a = metadata("");
        let b = a
            .replace("2036-11-23T10:00:00.000Z", "2037-01-01T00:00:00.000Z")
            .replace("\n    ", "\r\n\t");
        assert!(same_document(&a, &b));
        let c = a.replace("HttpPost\"/>", "HttpRedirect\"/>");
        assert!(!same_document(&a, &c));
        assert_eq!(
            normalize(r#"<a validUntil="x" b='1' validUntil='y'/>"#),
            "<ab='1'/>"
        );
        assert_eq!(normalize("<a validUntil=broken/>"), "<avalidUntil=broken/>");
    }
}
