//! `[web]`: the browser chat page and its WebSocket, on their own port. On by default on a port a
//! teacher can type in a browser (8080); `enabled = false` turns it off. The same port serves the
//! teacher's dashboard over HTTPS (`tls_cert` / `tls_key`, or a self-signed certificate).

use super::*;

/// The web port's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WebConfig {
    pub enabled: bool,
    pub listen: Vec<SocketAddr>,
    /// True when `listen` is the built-in default: a port already taken then only costs a
    /// warning (the chat port still serves the students' clients).
    pub listen_is_default: bool,
    /// Proxies whose `X-Forwarded-For` is believed (nginx adding TLS in front).
    pub trusted_proxies: Vec<Cidr>,
    /// The dashboard's own certificate and key (PEM); `None`: a self-signed one, made at first
    /// start in the data folder.
    pub tls: Option<OwnCertificate>,
}

/// `[web] tls_cert` and `tls_key`: the operator's certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub const DEFAULT_WEB_PORT: u16 = 8080;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    pub(super) enabled: Option<bool>,
    pub(super) listen: Option<Vec<String>>,
    pub(super) trusted_proxies: Option<Vec<String>>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
}

pub(super) fn web_config(raw: &RawWeb, overrides: &[String]) -> Result<WebConfig, ConfigError> {
    let written = if overrides.is_empty() {
        raw.listen.clone()
    } else {
        Some(overrides.to_vec())
    };
    let listen_is_default = written.is_none();
    let listen = match written {
        None => vec![
            SocketAddr::from(([0, 0, 0, 0], DEFAULT_WEB_PORT)),
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, DEFAULT_WEB_PORT)),
        ],
        Some(texts) if texts.is_empty() => {
            return Err(ConfigError::Invalid(
                "« web.listen » est vide (pour couper la page web : [web] enabled = false)".into(),
            ))
        }
        Some(texts) => texts
            .iter()
            .map(|text| parse_listen(text))
            .collect::<Result<_, _>>()?,
    };
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .flatten()
        .map(|text| {
            Cidr::parse(text)
                .map_err(|error| ConfigError::Invalid(format!("web.trusted_proxies : {error}")))
        })
        .collect::<Result<_, _>>()?;
    let tls = match (&raw.tls_cert, &raw.tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(OwnCertificate {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => {
            return Err(ConfigError::Invalid(
                "« web.tls_cert » et « web.tls_key » vont ensemble (le certificat et sa clé \
                 privée, fichiers PEM) ; sans les deux, un certificat auto-signé est créé"
                    .into(),
            ))
        }
    };
    Ok(WebConfig {
        enabled: raw.enabled.unwrap_or(true),
        listen,
        listen_is_default,
        trusted_proxies,
        tls,
    })
}
