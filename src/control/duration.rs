//! Durations as a teacher types them: French or English units, with or without a space
//! (`10 min`, `10min`, `2 heures`, `2h`, `1 j`, `30 s`, `1 h 30 min`). A bare number is refused:
//! `shutdown 10 min` once stopped the server after 10 *seconds* (the number was read as seconds
//! and "min" became the message). The same rules serve the console and the socket's JSON.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest duration accepted (a ban "for ten years" is as good as permanent).
pub const MAX_SECONDS: u64 = 10 * 365 * 86_400;

/// The examples every refusal shows.
pub const EXAMPLES: &str = "30 s, 10 min, 2 h, 1 j";

/// A length of time given by the operator: at least one second, at most [`MAX_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(Duration);

impl Span {
    pub fn from_secs(seconds: u64) -> Result<Span, String> {
        if seconds == 0 {
            return Err("Durée nulle : donnez au moins une seconde.".into());
        }
        if seconds > MAX_SECONDS {
            return Err("Durée trop longue (dix ans au plus).".into());
        }
        Ok(Span(Duration::from_secs(seconds)))
    }

    pub fn duration(self) -> Duration {
        self.0
    }

    pub fn secs(self) -> u64 {
        self.0.as_secs()
    }

    /// Parses a whole text (`"10 min"`, `"2h"`, `"1 h 30 min"`).
    pub fn parse(text: &str) -> Result<Span, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            return Err(format!("Durée vide (exemples : {EXAMPLES})."));
        }
        let (span, used) = Span::take(&words)?;
        match words.get(used) {
            None => Ok(span),
            Some(extra) => Err(format!(
                "Durée illisible « {} » : « {extra} » en trop (exemples : {EXAMPLES}).",
                text.trim()
            )),
        }
    }

    /// Reads a duration at the start of `words` (one word `10min`, or a number and its unit
    /// `10 min`, then more such parts: `1 h 30 min`); returns it and how many words it took.
    /// The first part must be whole (a bare number is refused); a later word that is not a
    /// whole part ends the duration (`ban alice 2 h 3 avertissements`).
    pub fn take(words: &[&str]) -> Result<(Span, usize), String> {
        let mut total: u64 = 0;
        let mut used = 0;
        while let Some(word) = words.get(used) {
            match part(word, words.get(used + 1).copied()) {
                Ok((seconds, width)) => {
                    total = total.saturating_add(seconds);
                    used += width;
                }
                Err(error) if used == 0 => return Err(error),
                Err(_) => break,
            }
        }
        Ok((Span::from_secs(total)?, used))
    }
}

/// One part of a duration: `word` (`10min`, `1h30min`), or `word` and `next` (`10`, `min`); its
/// seconds and how many words it took.
fn part(word: &str, next: Option<&str>) -> Result<(u64, usize), String> {
    if !word.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "Durée attendue (exemples : {EXAMPLES}), pas « {word} »."
        ));
    }
    let mut total: u64 = 0;
    let mut width = 1;
    let mut rest = word;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let letters = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (mut unit, after) = after.split_at(letters);
        if unit.is_empty() {
            match next {
                Some(next) if unit_seconds(next).is_some() => {
                    unit = next;
                    width = 2;
                }
                _ if number == word => {
                    return Err(format!(
                        "Durée « {word} » sans unité : écrivez par exemple {word} min (unités : \
                         s, min, h, j ; exemples : {EXAMPLES})."
                    ))
                }
                _ => {
                    return Err(format!(
                        "« {number} » sans unité dans « {word} » : écrivez par exemple \
                         {word}min (exemples : {EXAMPLES})."
                    ))
                }
            }
        }
        let Some(seconds) = unit_seconds(unit) else {
            return Err(format!(
                "Unité inconnue « {unit} » dans « {word} » (s, min, h, j ; exemples : \
                 {EXAMPLES})."
            ));
        };
        let value = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(seconds))
            .unwrap_or(u64::MAX);
        total = total.saturating_add(value);
        rest = after;
    }
    Ok((total, width))
}

/// Seconds in one unit, French or English, any letter case; `None` if it is not a unit.
fn unit_seconds(unit: &str) -> Option<u64> {
    Some(match unit.to_lowercase().as_str() {
        "s" | "sec" | "secs" | "seconde" | "secondes" | "second" | "seconds" => 1,
        "m" | "mn" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "heure" | "heures" | "hour" | "hours" => 3600,
        "j" | "jour" | "jours" | "d" | "day" | "days" => 86_400,
        "sem" | "semaine" | "semaines" | "w" | "week" | "weeks" => 7 * 86_400,
        _ => return None,
    })
}

/// `45 s`, `10 min`, `2 h 30 min`, `3 j`: what the console prints, and what it reads back.
/// The same words as the chat's notices (`classcord_core::hub::describe_secs`, their one home).
pub fn describe(duration: Duration) -> String {
    classcord_core::hub::describe_secs(duration.as_secs())
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(self.0))
    }
}

/// How long a ban lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BanLength {
    #[default]
    Permanent,
    For(Span),
}

/// Words that mean "for good" (console and JSON).
pub const PERMANENT_WORDS: [&str; 4] = ["permanent", "définitif", "definitif", "toujours"];

impl BanLength {
    pub fn is_permanent(&self) -> bool {
        *self == BanLength::Permanent
    }
}

/// When a shutdown happens, or that the running countdown is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum When {
    #[default]
    Now,
    In(Span),
    Cancel,
}

/// Words for "now" and "cancel" (console and JSON).
pub const NOW_WORDS: [&str; 2] = ["maintenant", "now"];
pub const CANCEL_WORDS: [&str; 2] = ["annuler", "cancel"];

impl When {
    pub fn is_now(&self) -> bool {
        *self == When::Now
    }
}

/// A duration in JSON: a text with its unit, or a number of seconds (for scripts).
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Seconds(u64),
}

fn raw_span(raw: Raw) -> Result<Span, String> {
    match raw {
        Raw::Seconds(seconds) => Span::from_secs(seconds),
        Raw::Text(text) => Span::parse(&text),
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Span, D::Error> {
        raw_span(Raw::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for BanLength {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            BanLength::Permanent => serializer.serialize_str("permanent"),
            BanLength::For(span) => serializer.serialize_str(&span.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for BanLength {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BanLength, D::Error> {
        let raw = Option::<Raw>::deserialize(deserializer)?;
        match raw {
            None => Ok(BanLength::Permanent),
            Some(Raw::Text(text)) if PERMANENT_WORDS.contains(&text.trim()) => {
                Ok(BanLength::Permanent)
            }
            Some(raw) => raw_span(raw)
                .map(BanLength::For)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for When {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            When::Now => serializer.serialize_str("maintenant"),
            When::In(span) => serializer.serialize_str(&span.to_string()),
            When::Cancel => serializer.serialize_str("annuler"),
        }
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<When, D::Error> {
        let raw = Option::<Raw>::deserialize(deserializer)?;
        match raw {
            None | Some(Raw::Seconds(0)) => Ok(When::Now),
            Some(Raw::Text(text)) => {
                let text = text.trim().to_lowercase();
                // "0": what older consoles sent for "now".
                if text.is_empty() || text == "0" || NOW_WORDS.contains(&text.as_str()) {
                    Ok(When::Now)
                } else if CANCEL_WORDS.contains(&text.as_str()) {
                    Ok(When::Cancel)
                } else {
                    Span::parse(&text)
                        .map(When::In)
                        .map_err(serde::de::Error::custom)
                }
            }
            Some(raw) => raw_span(raw)
                .map(When::In)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        Span::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .secs()
    }

    #[test]
    fn french_and_english_units_with_or_without_a_space() {
        for (text, expected) in [
            ("10 min", 600),
            ("10min", 600),
            ("10 minutes", 600),
            ("10m", 600),
            ("2 heures", 7200),
            ("2h", 7200),
            ("2 H", 7200),
            ("2 hours", 7200),
            ("1 j", 86_400),
            ("1 jour", 86_400),
            ("3d", 3 * 86_400),
            ("30 s", 30),
            ("30sec", 30),
            ("45 secondes", 45),
            ("1 semaine", 7 * 86_400),
            ("1 h 30 min", 5400),
            ("1h30min", 5400),
        ] {
            assert_eq!(secs(text), expected, "{text}");
        }
    }

    #[test]
    fn a_bare_number_is_refused_with_an_example() {
        let error = Span::parse("10").unwrap_err();
        assert!(error.contains("sans unité"), "{error}");
        assert!(error.contains("10 min"), "{error}");
        // What the console's words look like: "10" then a message.
        let error = Span::take(&["10", "mise", "à", "jour"]).unwrap_err();
        assert!(error.contains("« 10 » sans unité"), "{error}");
        assert!(Span::parse("1h30")
            .unwrap_err()
            .contains("« 30 » sans unité dans « 1h30 »"));
        assert_eq!(secs("1h30 min"), 5400);
        assert!(Span::parse("1 h 30")
            .unwrap_err()
            .contains("« 30 » en trop"));
    }

    #[test]
    fn unknown_units_zero_and_too_long_are_refused() {
        assert!(Span::parse("10 minuts").unwrap_err().contains("sans unité"));
        assert!(Span::parse("10mns")
            .unwrap_err()
            .contains("Unité inconnue « mns »"));
        assert!(Span::parse("0 s").unwrap_err().contains("nulle"));
        assert!(Span::parse("11 ans").is_err());
        assert!(Span::parse("4000 j").unwrap_err().contains("trop longue"));
        assert!(Span::parse("99999999999999999999 s").is_err());
        assert!(Span::parse("2 h bonjour").unwrap_err().contains("en trop"));
        assert!(Span::parse("bientôt").is_err());
    }

    #[test]
    fn take_says_how_many_words_it_used() {
        assert_eq!(Span::take(&["10", "min", "mise"]).unwrap().1, 2);
        assert_eq!(Span::take(&["10min", "mise"]).unwrap().1, 1);
        assert_eq!(Span::take(&["1", "h", "30", "min", "x"]).unwrap().1, 4);
        assert_eq!(Span::take(&["2", "h", "3", "avertissements"]).unwrap().1, 2);
    }

    #[test]
    fn described_durations_read_back() {
        for seconds in [1, 59, 60, 61, 3600, 5400, 86_400, 90_061, MAX_SECONDS] {
            let text = describe(Duration::from_secs(seconds));
            assert_eq!(secs(&text), seconds, "{text}");
        }
        assert_eq!(describe(Duration::from_secs(9000)), "2 h 30 min");
    }

    #[test]
    fn json_values_old_and_new() {
        let ban = |json: &str| serde_json::from_str::<BanLength>(json);
        assert_eq!(ban("null").unwrap(), BanLength::Permanent);
        assert_eq!(ban("\"définitif\"").unwrap(), BanLength::Permanent);
        assert_eq!(
            ban("\"2h\"").unwrap(),
            BanLength::For(Span::from_secs(7200).unwrap())
        );
        assert_eq!(
            ban("3600").unwrap(),
            BanLength::For(Span::from_secs(3600).unwrap())
        );
        assert!(ban("\"10\"")
            .unwrap_err()
            .to_string()
            .contains("sans unité"));
        let when = |json: &str| serde_json::from_str::<When>(json);
        assert_eq!(when("\"0\"").unwrap(), When::Now);
        assert_eq!(when("\"maintenant\"").unwrap(), When::Now);
        assert_eq!(when("\"cancel\"").unwrap(), When::Cancel);
        assert_eq!(
            when("\"5 min\"").unwrap(),
            When::In(Span::from_secs(300).unwrap())
        );
        let back = serde_json::to_string(&When::In(Span::from_secs(5400).unwrap())).unwrap();
        assert_eq!(back, "\"1 h 30 min\"");
        assert_eq!(
            when(&back).unwrap(),
            When::In(Span::from_secs(5400).unwrap())
        );
    }
}
