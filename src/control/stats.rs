//! `stats`: the metrics as rendered for Prometheus (the very same numbers), read back into a map
//! of samples and summarised in French; and the last hour minute by minute ([`PerMinute`], the
//! dashboard's chart).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

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

/// Minutes kept for the chart.
pub const MINUTES_KEPT: usize = 60;

/// One minute of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Minute {
    /// Its start, seconds since the Unix epoch.
    pub minute: u64,
    /// Chat messages relayed during it.
    pub messages: u64,
    /// Chat connections (TCP or WebSocket) opened during it.
    pub connections: u64,
}

/// Messages relayed and chat connections opened per minute over the last hour, fed with the
/// totals on every hub tick (a tick's increase goes to the minute it falls in).
#[derive(Debug, Default)]
pub struct PerMinute {
    minutes: VecDeque<Minute>,
    /// The totals at the last sample.
    last: (u64, u64),
}

impl PerMinute {
    pub fn sample(&mut self, now_unix: u64, messages: u64, connections: u64) {
        let minute = now_unix / 60 * 60;
        let added = (
            messages.saturating_sub(self.last.0),
            connections.saturating_sub(self.last.1),
        );
        self.last = (messages, connections);
        if let Some(current) = self.minutes.back_mut() {
            // The same minute, or a clock stepped back: counted in the latest one.
            if current.minute >= minute {
                current.messages += added.0;
                current.connections += added.1;
                return;
            }
            // Quiet minutes in between are zeros (at most an hour of them).
            let gap = ((minute - current.minute) / 60).min(MINUTES_KEPT as u64);
            for back in (1..gap).rev() {
                self.minutes.push_back(Minute {
                    minute: minute - back * 60,
                    messages: 0,
                    connections: 0,
                });
            }
        }
        self.minutes.push_back(Minute {
            minute,
            messages: added.0,
            connections: added.1,
        });
        while self.minutes.len() > MINUTES_KEPT {
            self.minutes.pop_front();
        }
    }

    /// The minutes kept, oldest first.
    pub fn series(&self) -> Vec<Minute> {
        self.minutes.iter().copied().collect()
    }
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

    #[test]
    fn minutes_count_what_each_tick_added_and_quiet_minutes_are_zeros() {
        let mut chart = PerMinute::default();
        chart.sample(6_000, 3, 1);
        chart.sample(6_030, 10, 2);
        chart.sample(6_125, 12, 2);
        // Four quiet minutes, then one message.
        chart.sample(6_365, 13, 2);
        let series = chart.series();
        let counts: Vec<(u64, u64, u64)> = series
            .iter()
            .map(|m| (m.minute, m.messages, m.connections))
            .collect();
        assert_eq!(
            counts,
            [
                (6_000, 10, 2),
                (6_060, 0, 0),
                (6_120, 2, 0),
                (6_180, 0, 0),
                (6_240, 0, 0),
                (6_300, 0, 0),
                (6_360, 1, 0),
            ]
        );
        // A day later: never more than an hour kept.
        chart.sample(6_360 + 86_400, 20, 3);
        assert_eq!(chart.series().len(), MINUTES_KEPT);
        assert_eq!(chart.series().last().unwrap().messages, 7);
    }
}
