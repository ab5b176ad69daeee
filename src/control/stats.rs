//! `stats`: the metrics as rendered for Prometheus (the very same numbers), read back into a map
//! of samples and summarised in French.

use std::collections::BTreeMap;
use std::time::Duration;

use super::duration::describe;
use super::report::bytes;

/// Every sample of a rendered metrics text: `name{labels}` -> value.
pub fn samples(rendered: &str) -> BTreeMap<String, f64> {
    rendered
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn get(samples: &BTreeMap<String, f64>, name: &str) -> u64 {
    samples
        .get(&format!("classcord_{name}"))
        .copied()
        .unwrap_or(0.0) as u64
}

/// The sum of a labelled family.
fn total(samples: &BTreeMap<String, f64>, name: &str) -> u64 {
    let prefix = format!("classcord_{name}{{");
    samples
        .iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .map(|(_, value)| *value as u64)
        .sum()
}

pub fn summary(samples: &BTreeMap<String, f64>, rate: f64) -> String {
    let g = |name: &str| get(samples, name);
    let lines = [
        format!(
            "En service depuis {}.",
            describe(Duration::from_secs(g("uptime_seconds")))
        ),
        format!(
            "Connexions ouvertes : {} (anonymes {}, invités {}, comptes {} ; navigateurs {}) ; \
             acceptées depuis le démarrage : {}, refusées : {}.",
            total(samples, "connections_open"),
            g("sessions{kind=\"anonymous\"}"),
            g("sessions{kind=\"guest\"}"),
            g("sessions{kind=\"account\"}"),
            g("connections_open{transport=\"websocket\"}"),
            g("connections_accepted_total"),
            total(samples, "connections_rejected_total"),
        ),
        format!("Salons : {}.", g("channels")),
        format!(
            "Messages : {} par seconde (dernière minute) ; {} relayés, {} lignes reçues, {} \
             copies distribuées aux destinataires.",
            format!("{rate:.2}").replace('.', ","),
            g("messages_relayed_total"),
            g("lines_received_total"),
            g("deliveries_total"),
        ),
        format!(
            "Comptes : {} connexions réussies, {} échecs de mot de passe, {} inscriptions.",
            g("logins_total"),
            g("auth_failures_total"),
            g("registrations_total"),
        ),
        format!(
            "Défenses : {} exclusions, {} refus pour bannissement, {} limites de débit, {} \
             pauses d'inondation, {} clients lents, {} délais dépassés, {} erreurs de protocole.",
            g("kicks_total"),
            g("bans_enforced_total"),
            total(samples, "rate_limited_total"),
            g("flood_pauses_total"),
            g("slow_clients_total"),
            g("timeouts_total"),
            total(samples, "protocol_errors_total"),
        ),
        format!(
            "Mémoire : {} ; base de données : {}.",
            bytes(g("memory_rss_bytes")),
            bytes(g("database_bytes")),
        ),
    ];
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_the_rendered_metrics() {
        let metrics = crate::metrics::Metrics::new();
        crate::metrics::add(&metrics.counters.kicks, 2);
        metrics.rejected("banned");
        metrics.rejected("rate");
        let samples = samples(&metrics.render());
        assert_eq!(samples["classcord_kicks_total"], 2.0);
        let text = summary(&samples, 1.5);
        assert!(text.contains("2 exclusions"), "{text}");
        assert!(text.contains("refusées : 2"), "{text}");
        assert!(text.contains("1,50 par seconde"), "{text}");
    }
}
