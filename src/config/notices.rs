//! `[notices]`: every notice text can be overridden; a text with a placeholder the hub does not
//! fill is refused, naming the key.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotices {
    pub(super) joined: Option<String>,
    pub(super) left: Option<String>,
    pub(super) kicked: Option<String>,
    pub(super) banned: Option<String>,
    pub(super) channel_closed: Option<String>,
    pub(super) channel_reopened: Option<String>,
    pub(super) channel_deleted: Option<String>,
    pub(super) shutdown: Option<String>,
    pub(super) shutdown_soon: Option<String>,
    pub(super) channel_moves: Option<String>,
}

/// Placeholders a notice text may hold.
const PLACEHOLDERS: [&str; 4] = ["{nom}", "{salon}", "{raison}", "{delai}"];

/// `[notices]`: each text replaces a default; an unknown `{...}` is refused (a typo would show
/// as is to every user).
pub(super) fn notice_texts(raw: &RawNotices) -> Result<NoticeTexts, ConfigError> {
    let mut texts = NoticeTexts::default();
    for (key, value, slot) in [
        ("joined", &raw.joined, &mut texts.joined),
        ("left", &raw.left, &mut texts.left),
        ("kicked", &raw.kicked, &mut texts.kicked),
        ("banned", &raw.banned, &mut texts.banned),
        (
            "channel_closed",
            &raw.channel_closed,
            &mut texts.channel_closed,
        ),
        (
            "channel_reopened",
            &raw.channel_reopened,
            &mut texts.channel_reopened,
        ),
        (
            "channel_deleted",
            &raw.channel_deleted,
            &mut texts.channel_deleted,
        ),
        ("shutdown", &raw.shutdown, &mut texts.shutdown),
        (
            "shutdown_soon",
            &raw.shutdown_soon,
            &mut texts.shutdown_soon,
        ),
    ] {
        let Some(text) = value else { continue };
        if text.trim().is_empty() {
            return Err(ConfigError::Invalid(format!(
                "« notices.{key} » est vide (pour taire arrivées et départs : channel_moves = \"off\")"
            )));
        }
        if text.chars().count() > 1000 {
            return Err(ConfigError::Invalid(format!(
                "« notices.{key} » dépasse 1000 caractères"
            )));
        }
        let mut rest = text.as_str();
        while let Some(start) = rest.find('{') {
            let tail = &rest[start..];
            let end = tail.find('}').map_or(tail.len(), |end| end + 1);
            let found = &tail[..end];
            if !PLACEHOLDERS.contains(&found) {
                return Err(ConfigError::Invalid(format!(
                    "« notices.{key} » : « {found} » inconnu (possibles : {})",
                    PLACEHOLDERS.join(", ")
                )));
            }
            rest = &tail[end..];
        }
        *slot = text.clone();
    }
    if let Some(moves) = &raw.channel_moves {
        texts.channel_moves = match moves.trim() {
            "all" => ChannelMoves::All,
            "accounts" => ChannelMoves::AccountsOnly,
            "off" => ChannelMoves::Off,
            other => {
                return Err(ConfigError::Invalid(format!(
                    "« notices.channel_moves » : « {other} » inconnu (all, accounts ou off)"
                )))
            }
        };
    }
    Ok(texts)
}
