//! The dashboard's certificate, as Cockpit does on a fresh server: a self-signed one made at first
//! start and kept in the data folder (`tls/dashboard.crt`, and its key `tls/dashboard.key`, mode
//! 0600), or the operator's own (`[web] tls_cert` / `tls_key`, PEM). Its SHA-256 fingerprint is
//! logged at start and shown by `classcord admin certificate`, so the teacher can check the
//! browser's warning once. TLS 1.3 only (rustls with ring): every browser since 2018 speaks it.

use std::fmt;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::Config;
use crate::control::CertificateFacts;

/// The folder of the data folder that holds the self-signed certificate.
pub const TLS_DIR: &str = "tls";
pub const CERT_FILE: &str = "dashboard.crt";
pub const KEY_FILE: &str = "dashboard.key";
/// Years a self-signed certificate is valid (browsers do not limit self-signed ones).
const VALID_YEARS: i32 = 10;

/// Why the dashboard has no certificate (the chat goes on without the dashboard).
#[derive(Debug)]
pub enum TlsError {
    Read(PathBuf, std::io::Error),
    Write(PathBuf, std::io::Error),
    /// A PEM file without what it should hold.
    Pem(PathBuf, &'static str),
    Make(String),
    Rustls(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read(path, error) => write!(f, "lecture de {} : {error}", path.display()),
            TlsError::Write(path, error) => {
                write!(f, "écriture de {} : {error}", path.display())
            }
            TlsError::Pem(path, what) => write!(f, "{} : {what}", path.display()),
            TlsError::Make(error) => write!(f, "création du certificat : {error}"),
            TlsError::Rustls(error) => write!(f, "certificat ou clé refusés : {error}"),
        }
    }
}

/// The dashboard's TLS, ready to serve.
pub struct Tls {
    pub config: Arc<ServerConfig>,
    pub fingerprint: String,
    pub path: PathBuf,
    pub self_signed: bool,
    /// A certificate was made at this start.
    pub made: bool,
}

impl Tls {
    /// What the desk shows (`classcord admin certificate`), with the addresses to type.
    pub fn facts(&self, urls: Vec<String>) -> CertificateFacts {
        CertificateFacts {
            fingerprint: self.fingerprint.clone(),
            path: self.path.clone(),
            self_signed: self.self_signed,
            urls,
        }
    }
}

/// The operator's certificate if configured, else the self-signed one of the data folder (made
/// now if missing).
pub fn load_or_make(config: &Config) -> Result<Tls, TlsError> {
    if let Some(own) = &config.web.tls {
        let (chain, key) = read_pair(&own.cert, &own.key)?;
        return ready(chain, key, own.cert.clone(), false, false);
    }
    let dir = config.data_dir.join(TLS_DIR);
    let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    if cert.exists() && key.exists() {
        let (chain, key_der) = read_pair(&cert, &key)?;
        return ready(chain, key_der, cert, true, false);
    }
    let (cert_pem, key_pem) = make_self_signed()?;
    create_dir_private(&dir)?;
    write_private(&key, key_pem.as_bytes(), 0o600)?;
    write_private(&cert, cert_pem.as_bytes(), 0o644)?;
    let (chain, key_der) = read_pair(&cert, &key)?;
    ready(chain, key_der, cert, true, true)
}

fn ready(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    path: PathBuf,
    self_signed: bool,
    made: bool,
) -> Result<Tls, TlsError> {
    let fingerprint = fingerprint(&chain[0]);
    // Deprecated for lacking post-quantum key exchange (ML-KEM): only aws-lc-rs has it, whose
    // C build (cmake, per-target assembly) the cross and musl builds cannot afford. A LAN
    // dashboard's sessions last a school day; X25519 and P-256 are what browsers offer anyway.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::Rustls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Rustls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
        path,
        self_signed,
        made,
    })
}

fn read_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|e| TlsError::Read(cert.to_owned(), e))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem(cert.to_owned(), "certificat PEM illisible"))?;
    if chain.is_empty() {
        return Err(TlsError::Pem(
            cert.to_owned(),
            "aucun certificat (« -----BEGIN CERTIFICATE----- ») dans le fichier",
        ));
    }
    let key_pem = std::fs::read(key).map_err(|e| TlsError::Read(key.to_owned(), e))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| TlsError::Pem(key.to_owned(), "aucune clé privée PEM dans le fichier"))?;
    Ok((chain, key))
}

/// A new ECDSA P-256 key and a certificate for this machine's names and addresses.
fn make_self_signed() -> Result<(String, String), TlsError> {
    let make = |error: rcgen::Error| TlsError::Make(error.to_string());
    let key = rcgen::KeyPair::generate().map_err(make)?;
    let host = host_name();
    let mut names = vec!["localhost".to_owned()];
    if let Some(host) = &host {
        names.push(host.clone());
        names.push(format!("{host}.local"));
    }
    names.extend(local_addresses().iter().map(IpAddr::to_string));
    names.push("127.0.0.1".into());
    names.push("::1".into());
    names.dedup();
    let mut params = rcgen::CertificateParams::new(names).map_err(make)?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(
        rcgen::DnType::CommonName,
        format!("ClassCord {}", host.as_deref().unwrap_or("tableau de bord")),
    );
    subject.push(rcgen::DnType::OrganizationName, "ClassCord");
    params.distinguished_name = subject;
    let now = crate::clock::local_time(crate::control::bans::now_unix(), 0);
    let (year, month, day) = (now.year, now.month, now.day);
    params.not_before = rcgen::date_time_ymd(year, month, day.min(28));
    params.not_after = rcgen::date_time_ymd(year + VALID_YEARS, month, day.min(28));
    let cert = params.self_signed(&key).map_err(make)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// SHA-256 of a certificate, as browsers show it: `AB:CD:...`.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn host_name() -> Option<String> {
    let name = nix::unistd::gethostname().ok()?.into_string().ok()?;
    let name = name.trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// The machine's own addresses (no loopback), for the certificate and the addresses shown.
fn local_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        // The packaged unit allows no netlink socket (RestrictAddressFamilies).
        return routed_addresses();
    };
    let mut found = Vec::new();
    for interface in interfaces {
        let Some(address) = interface.address else {
            continue;
        };
        let ip = if let Some(v4) = address.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = address.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        let link_local = matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
        if !ip.is_loopback() && !link_local && !found.contains(&ip) {
            found.push(ip);
        }
    }
    found
}

/// The source addresses the kernel would use towards the usual networks (a UDP socket
/// "connected" sends nothing): the machine's addresses without listing its interfaces.
fn routed_addresses() -> Vec<IpAddr> {
    let probes: [(&str, SocketAddr); 5] = [
        ("0.0.0.0:0", SocketAddr::from(([192, 0, 2, 1], 9))),
        ("0.0.0.0:0", SocketAddr::from(([10, 255, 255, 254], 9))),
        ("0.0.0.0:0", SocketAddr::from(([172, 31, 255, 254], 9))),
        ("0.0.0.0:0", SocketAddr::from(([192, 168, 255, 254], 9))),
        (
            "[::]:0",
            SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 9)),
        ),
    ];
    let mut found = Vec::new();
    for (local, target) in probes {
        let Ok(socket) = std::net::UdpSocket::bind(local) else {
            continue;
        };
        if socket.connect(target).is_err() {
            continue;
        }
        if let Ok(address) = socket.local_addr() {
            let ip = address.ip();
            if !ip.is_loopback() && !ip.is_unspecified() && !found.contains(&ip) {
                found.push(ip);
            }
        }
    }
    found
}

/// The dashboard's addresses for the web port's bound sockets: each of the machine's addresses
/// for a wildcard (IPv4 ones first), else the address itself.
pub fn dashboard_urls(bound: &[SocketAddr]) -> Vec<String> {
    let mut urls = Vec::new();
    let machine = local_addresses();
    for addr in bound {
        let port = addr.port();
        let ips: Vec<IpAddr> = if addr.ip().is_unspecified() {
            let v4 = addr.is_ipv4();
            let mut ips: Vec<IpAddr> = machine
                .iter()
                .copied()
                .filter(|ip| ip.is_ipv4() == v4)
                .collect();
            if ips.is_empty() {
                ips.push(if v4 {
                    IpAddr::from([127, 0, 0, 1])
                } else {
                    IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
                });
            }
            ips
        } else {
            vec![addr.ip()]
        };
        for ip in ips {
            let url = format!("https://{}/admin", SocketAddr::new(ip, port));
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    urls
}

fn create_dir_private(dir: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(TlsError::Write(dir.to_owned(), error)),
    }
}

/// Writes `bytes` under a temporary name with `mode`, then renames it into place.
fn write_private(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let temp = path.with_extension("tmp");
    let error = |e| TlsError::Write(path.to_owned(), e);
    let _ = std::fs::remove_file(&temp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)?;
    drop(file);
    std::fs::rename(&temp, path).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path) -> Config {
        let mut config = Config::load(None, crate::config::Overrides::default()).unwrap();
        config.data_dir = dir.to_owned();
        config
    }

    #[test]
    fn a_self_signed_certificate_is_made_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let first = load_or_make(&config).unwrap();
        assert!(first.made && first.self_signed);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let key = dir.path().join(TLS_DIR).join(KEY_FILE);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_make(&config).unwrap();
        assert!(!again.made);
        assert_eq!(again.fingerprint, first.fingerprint);
    }

    #[test]
    fn the_operators_own_files_are_used_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_pem, key_pem) = make_self_signed().unwrap();
        let (cert, key) = (dir.path().join("own.crt"), dir.path().join("own.key"));
        std::fs::write(&cert, cert_pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        let mut config = config_in(&dir.path().join("data"));
        config.web.tls = Some(crate::config::OwnCertificate {
            cert: cert.clone(),
            key: key.clone(),
        });
        let tls = load_or_make(&config).unwrap();
        assert!(!tls.self_signed && !tls.made);
        assert!(!dir.path().join("data").join(TLS_DIR).exists());
        std::fs::write(&key, "pas une clé").unwrap();
        let error = load_or_make(&config).err().unwrap().to_string();
        assert!(
            error.contains("own.key") && error.contains("clé privée"),
            "{error}"
        );
    }

    #[test]
    fn routed_addresses_are_the_machines_own() {
        for ip in routed_addresses() {
            assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
        }
    }

    #[test]
    fn wildcard_addresses_become_the_machines_own() {
        let urls = dashboard_urls(&["127.0.0.1:8443".parse().unwrap()]);
        assert_eq!(urls, ["https://127.0.0.1:8443/admin"]);
        let urls = dashboard_urls(&["0.0.0.0:8080".parse().unwrap()]);
        assert!(urls.iter().all(|u| u.ends_with(":8080/admin")), "{urls:?}");
        assert!(!urls.is_empty());
    }
}
