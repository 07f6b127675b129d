//! RSA private keys for signing JWTs, parsed leniently from what administrators actually store.
//!
//! Accepted: PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`) and PKCS#8 (`-----BEGIN PRIVATE KEY-----`) PEM,
//! multi-line or on one line with literal `\n` / `\r\n` (as Salesforce's docs tell admins to paste it into
//! Secrets Manager) or spaces, armour whose label does not match the content (an `RSA PRIVATE KEY` label on
//! a PKCS#8 body), surrounding quotes, and bare base64 DER without armour.

use jsonwebtoken::EncodingKey;
use pkcs1::der::Decode;

/// Why a private key could not be used. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the private key is empty")]
    Empty,
    #[error("the private key has a BEGIN line without a matching END line")]
    UnterminatedArmour,
    #[error("the private key is encrypted ({label}); store it unencrypted in a SecureString or secret")]
    Encrypted { label: String },
    #[error("the private key body is not valid base64")]
    Base64,
    #[error("the private key is neither a PKCS#1 nor a PKCS#8 RSA private key")]
    NotRsa,
    #[error("the RSA private key could not sign a test message")]
    Unusable,
}

/// An RSA private key ready to sign RS256 JWTs. `Debug` never shows the key.
#[derive(Clone)]
pub struct RsaSigningKey {
    key: EncodingKey,
    modulus_bits: usize,
}

impl std::fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaSigningKey({} bits, redacted)", self.modulus_bits)
    }
}

impl RsaSigningKey {
    /// Parses a private key in any of the accepted shapes and checks that it can sign.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let der = der_from_text(text)?;
        let pkcs1 = pkcs1_from_der(&der)?;
        let modulus_bits = pkcs1::RsaPrivateKeyRef::from_der(&pkcs1)
            .map_err(|_| KeyError::NotRsa)?
            .modulus
            .as_bytes()
            .len()
            * 8;
        let key = Self {
            key: EncodingKey::from_rsa_der(&pkcs1),
            modulus_bits,
        };
        key.sign(&serde_json::json!({ "check": true }))
            .map_err(|_| KeyError::Unusable)?;
        if modulus_bits < 2048 {
            tracing::warn!(
                modulus_bits,
                "RSA key shorter than 2048 bits; Salesforce recommends 2048 or 4096"
            );
        }
        Ok(key)
    }

    /// The key's modulus length in bits.
    pub fn modulus_bits(&self) -> usize {
        self.modulus_bits
    }

    /// Signs `claims` as an RS256 JWT with header `{"alg":"RS256","typ":"JWT"}`.
    pub fn sign<C: serde::Serialize>(&self, claims: &C) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            claims,
            &self.key,
        )
    }
}

/// The DER bytes inside whatever text holds the key.
fn der_from_text(text: &str) -> Result<Vec<u8>, KeyError> {
    let text = text
        .trim()
        .trim_matches('"')
        .replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .replace("\\r", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    let body = match text.find("-----BEGIN ") {
        Some(start) => {
            let after_begin = &text[start + "-----BEGIN ".len()..];
            let label_end = after_begin.find("-----").ok_or(KeyError::UnterminatedArmour)?;
            let label = after_begin[..label_end].trim();
            if label.contains("ENCRYPTED") {
                return Err(KeyError::Encrypted {
                    label: label.to_owned(),
                });
            }
            let rest = &after_begin[label_end + "-----".len()..];
            let end = rest.find("-----END ").ok_or(KeyError::UnterminatedArmour)?;
            // Old OpenSSL PEM headers ("Proc-Type: 4,ENCRYPTED") mark an encrypted PKCS#1 body.
            if rest[..end].contains("ENCRYPTED") {
                return Err(KeyError::Encrypted {
                    label: label.to_owned(),
                });
            }
            &rest[..end]
        }
        None => text,
    };
    crate::encoding::decode_base64_lenient(body).ok_or(KeyError::Base64)
}

/// The PKCS#1 `RSAPrivateKey` DER, whichever of PKCS#1 or PKCS#8 the input is (labels are not trusted).
fn pkcs1_from_der(der: &[u8]) -> Result<Vec<u8>, KeyError> {
    const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
        pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    if let Ok(info) = pkcs8::PrivateKeyInfoRef::from_der(der) {
        return if info.algorithm.oid == RSA_ENCRYPTION {
            Ok(info.private_key.as_bytes().to_vec())
        } else {
            Err(KeyError::NotRsa)
        };
    }
    pkcs1::RsaPrivateKeyRef::from_der(der)
        .map(|_| der.to_vec())
        .map_err(|_| KeyError::NotRsa)
}
