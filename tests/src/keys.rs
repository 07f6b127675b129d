//! Throw-away RSA key pairs, and the PEM shapes administrators store them in.

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use jsonwebtoken::DecodingKey;
use pkcs8::der::Decode;

use crate::HarnessError;

/// An RSA key pair generated for one test run.
pub struct TestKey {
    pkcs8_der: Vec<u8>,
    pkcs1_der: Vec<u8>,
    public_pkcs1_der: Vec<u8>,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestKey")
    }
}

impl TestKey {
    /// A fresh 2048-bit key.
    pub fn generate() -> Result<Self, HarnessError> {
        Self::generate_sized(KeySize::Rsa2048)
    }

    /// A fresh key of the given size.
    pub fn generate_sized(size: KeySize) -> Result<Self, HarnessError> {
        let pair =
            KeyPair::generate(size).map_err(|_| HarnessError::Setup("RSA key generation failed".into()))?;
        let pkcs8_der = pair
            .as_der()
            .map_err(|_| HarnessError::Setup("PKCS#8 encoding failed".into()))?
            .as_ref()
            .to_vec();
        let info = pkcs8::PrivateKeyInfoRef::from_der(&pkcs8_der)
            .map_err(|e| HarnessError::Setup(format!("PKCS#8 parse: {e}")))?;
        let pkcs1_der = info.private_key.as_bytes().to_vec();
        let public_pkcs1_der = pair.public_key().as_ref().to_vec();
        Ok(Self {
            pkcs8_der,
            pkcs1_der,
            public_pkcs1_der,
        })
    }

    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1), 64-column lines.
    pub fn pkcs1_pem(&self) -> String {
        pem("RSA PRIVATE KEY", &self.pkcs1_der)
    }

    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8), 64-column lines.
    pub fn pkcs8_pem(&self) -> String {
        pem("PRIVATE KEY", &self.pkcs8_der)
    }

    /// A PKCS#8 body under an `RSA PRIVATE KEY` label, as Salesforce's docs produce.
    pub fn mislabelled_pem(&self) -> String {
        pem("RSA PRIVATE KEY", &self.pkcs8_der)
    }

    /// The PKCS#8 body alone, base64, no armour.
    pub fn bare_base64(&self) -> String {
        STANDARD.encode(&self.pkcs8_der)
    }

    /// The public key for verifying signatures.
    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_rsa_der(&self.public_pkcs1_der)
    }
}

/// PEM with 64-column lines and a final newline.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// `pem` on one line with literal `\n` (two characters) between lines.
pub fn one_line_with_literal_newlines(pem: &str) -> String {
    pem.trim_end().replace('\n', "\\n")
}

/// `pem` on one line with literal `\r\n` between lines.
pub fn one_line_with_literal_crlf(pem: &str) -> String {
    pem.trim_end().replace('\n', "\\r\\n")
}

/// `pem` with CRLF line ends.
pub fn crlf(pem: &str) -> String {
    pem.replace('\n', "\r\n")
}

/// `pem` on one line with spaces between lines (what a copy from a web form often gives).
pub fn one_line_with_spaces(pem: &str) -> String {
    pem.trim_end().replace('\n', " ")
}
