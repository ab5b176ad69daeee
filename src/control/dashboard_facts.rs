//! What the desk keeps for the teacher's dashboard, in one place that the desk and the files
//! that carry out the dashboard's requests (`operators.rs`, `certificate.rs`) all read: the
//! operator grants and the facts of the dashboard's certificate.

use std::collections::BTreeMap;
use std::path::PathBuf;

use classcord_core::message::fold_name;

/// What the dashboard's HTTPS uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// SHA-256 of the certificate (DER), as browsers show it: `AB:CD:...`.
    pub fingerprint: String,
    /// The certificate file.
    pub path: PathBuf,
    /// Made by ClassCord (self-signed), or the operator's own (`[web] tls_cert`).
    pub self_signed: bool,
    /// Addresses to type in a browser (`https://192.168.1.10:8080/admin`).
    pub urls: Vec<String>,
}

/// Granted accounts as stored: account key -> name as registered.
pub type Grants = BTreeMap<String, String>;

/// The grants read at start, keyed.
pub fn grants(names: Vec<String>) -> Grants {
    names
        .into_iter()
        .map(|name| (fold_name(&name), name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::grants;

    #[test]
    fn grants_are_keyed_by_the_folded_name() {
        let grants = grants(vec!["Prof".into(), "Zoé".into()]);
        assert_eq!(grants.get("prof").map(String::as_str), Some("Prof"));
        assert_eq!(grants.get("zoé").map(String::as_str), Some("Zoé"));
    }
}
