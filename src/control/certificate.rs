//! `certificate`: where the dashboard is served and the SHA-256 fingerprint of its certificate, so
//! the teacher can check the browser's warning about a self-signed certificate once, against a
//! value read on the server itself. The web shell makes the certificate (`crate::web::tls`) and
//! hands these facts to the desk.

use serde_json::json;

use super::desk::Desk;
use super::request::{Answer, Outcome};

impl Desk {
    pub(super) fn certificate(&self) -> Outcome {
        let Some(facts) = &self.certificate else {
            return Err(
                "Pas de tableau de bord : la page web est coupée ([web] enabled = false).".into(),
            );
        };
        let mut lines = vec![format!("Tableau de bord : {}", facts.urls.join(" ou "))];
        if facts.self_signed {
            lines.push(format!(
                "Certificat auto-signé, créé par ClassCord : {}",
                facts.path.display()
            ));
        } else {
            lines.push(format!(
                "Certificat fourni ([web] tls_cert) : {}",
                facts.path.display()
            ));
        }
        lines.push(format!("Empreinte SHA-256 : {}", facts.fingerprint));
        if facts.self_signed {
            lines.push(
                "Au premier accès, le navigateur avertit (certificat auto-signé) : comparez \
                 l'empreinte qu'il affiche (détails du certificat) avec celle-ci, puis \
                 acceptez."
                    .into(),
            );
        }
        Ok(Answer::new(
            lines.join("\n"),
            json!({
                "fingerprint_sha256": facts.fingerprint,
                "path": facts.path,
                "self_signed": facts.self_signed,
                "urls": facts.urls,
            }),
        ))
    }
}
