//! Inbound requests as typed values: JSON parsing, validation and normalisation (presence states,
//! channel names, user names). Every rejected line becomes a [`RequestError`] whose French text is
//! sent back to the client and whose stable [`RequestError::reason`] code goes to the logs.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use core::fmt;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

/// Longest user or guest name, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Longest channel name (without the `#`), in characters.
pub const MAX_CHANNEL_CHARS: usize = 50;
/// Longest accepted password, in bytes (hashing cost guard).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// `history` defaults and cap for `limit`.
pub const HISTORY_DEFAULT_LIMIT: u32 = 50;
pub const HISTORY_MAX_LIMIT: u32 = 500;

/// The name the server speaks as.
pub const SERVER_NAME: &str = "Serveur";
/// The name of a guest that did not give one.
pub const DEFAULT_GUEST_NAME: &str = "invité";
/// The default channel, every connection is a member.
pub const DEFAULT_CHANNEL: &str = "#général";

/// Names nobody can register (compared after folding). A guest asking for one is called `invité`.
const RESERVED_NAMES: [&str; 5] = ["serveur", "server", "admin", "global", "invité"];

/// A password, kept out of `Debug` output so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Self {
        Secret(text)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(***)")
    }
}

/// Presence states a client may set (`offline` is server-generated only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Online,
    Away,
    Dnd,
    Invisible,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Dnd => "dnd",
            Presence::Invisible => "invisible",
        }
    }

    /// Every spelling a client may send (compared trimmed, NFC, lower case) and the state it
    /// means (docs/PROTOCOL.md §3.5). The docs' lists are tested against this table
    /// (tests/docs). `offline` means disconnected and is server-generated only: a client that
    /// sends it becomes `invisible`.
    pub const SPELLINGS: [(&'static str, Presence); 12] = [
        ("online", Presence::Online),
        ("disponible", Presence::Online),
        ("en ligne", Presence::Online),
        ("away", Presence::Away),
        ("absent", Presence::Away),
        ("dnd", Presence::Dnd),
        ("do not disturb", Presence::Dnd),
        ("busy", Presence::Dnd),
        ("ne pas déranger", Presence::Dnd),
        // French for "busy": what a student's status menu says, so it means what `busy` means.
        ("occupé", Presence::Dnd),
        ("invisible", Presence::Invisible),
        ("offline", Presence::Invisible),
    ];

    /// Normalises what clients send (docs/PROTOCOL.md §3.5); `None` for an unknown state.
    pub fn parse(raw: &str) -> Option<Presence> {
        let folded = fold_name(raw.trim());
        Presence::SPELLINGS
            .iter()
            .find(|(spelling, _)| *spelling == folded)
            .map(|&(_, state)| state)
    }
}

/// A channel name: `key` compares (NFC, lower case, leading `#`), `display` is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName {
    pub key: String,
    pub display: String,
}

impl ChannelName {
    pub fn default_channel() -> Self {
        ChannelName {
            key: DEFAULT_CHANNEL.to_owned(),
            display: DEFAULT_CHANNEL.to_owned(),
        }
    }

    pub fn is_default(&self) -> bool {
        self.key == DEFAULT_CHANNEL
    }

    /// Normalises a client-given channel name; `general`, `#general`, `général` and `#Général`
    /// all name the default channel.
    pub fn parse(raw: &str) -> Result<ChannelName, RequestError> {
        let bare = raw.trim();
        let bare = bare.strip_prefix('#').unwrap_or(bare);
        let display: String = bare.nfc().collect();
        let chars = display.chars().count();
        if chars == 0 || chars > MAX_CHANNEL_CHARS {
            return Err(RequestError::InvalidChannel(raw.to_owned()));
        }
        if display.chars().any(|c| {
            c.is_control() || is_hidden_char(c) || c.is_whitespace() || c == '#' || c == ','
        }) {
            return Err(RequestError::InvalidChannel(raw.to_owned()));
        }
        let folded = fold_name(&display);
        if folded == "general" || folded == "général" {
            return Ok(ChannelName::default_channel());
        }
        Ok(ChannelName {
            key: format!("#{folded}"),
            display: format!("#{display}"),
        })
    }
}

/// The comparison key of a user or guest name: NFC then lower case.
pub fn fold_name(name: &str) -> String {
    let lowered: String = name.nfc().collect::<String>().to_lowercase();
    lowered.nfc().collect()
}

/// Reserved names (docs/PROTOCOL.md §2.7), compared case-insensitively.
pub fn is_reserved_name(name: &str) -> bool {
    let folded = fold_name(name.trim());
    RESERVED_NAMES.contains(&folded.as_str())
}

/// Why a name cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    TooLong,
    SurroundingSpace,
    ControlCharacter,
    /// A Unicode format or separator character (bidi override, zero-width space...): it would
    /// make the name display differently from what it is.
    InvisibleCharacter(char),
    Reserved,
}

/// Checks a name for registration (and, leniently, for guests).
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.trim() != name {
        return Err(NameProblem::SurroundingSpace);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameProblem::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::ControlCharacter);
    }
    if let Some(hidden) = name.chars().find(|&c| is_hidden_char(c)) {
        return Err(NameProblem::InvisibleCharacter(hidden));
    }
    if is_reserved_name(name) {
        return Err(NameProblem::Reserved);
    }
    Ok(())
}

/// Shown instead of a control or format character in a guest name.
pub const REPLACED_CHAR: char = '\u{FFFD}';

/// The name a guest gets from what it sent (`from` or `status.user`): trimmed, NFC, every control
/// or format character replaced by `�` (so `\u{202E}gnp.exe` cannot pose as `exe.png`); anything
/// still unusable, reserved, or made only of replaced characters gives `invité`.
pub fn guest_name(requested: Option<&str>) -> String {
    let Some(requested) = requested else {
        return DEFAULT_GUEST_NAME.to_owned();
    };
    let name: String = requested
        .trim()
        .nfc()
        .map(|c| {
            if c.is_control() || is_hidden_char(c) {
                REPLACED_CHAR
            } else {
                c
            }
        })
        .collect();
    let name = name.trim();
    if !name
        .chars()
        .any(|c| c != REPLACED_CHAR && !c.is_whitespace())
    {
        return DEFAULT_GUEST_NAME.to_owned();
    }
    match check_name(name) {
        Ok(()) => name.to_owned(),
        Err(_) => DEFAULT_GUEST_NAME.to_owned(),
    }
}

/// Characters that change how text around them is displayed without being visible themselves:
/// Unicode format characters (category Cf: bidi overrides and isolates U+202A-202E and
/// U+2066-2069, zero-width spaces and joiners, soft hyphen, byte order mark...), the line and
/// paragraph separators (Zl, Zp), and the Hangul fillers and combining grapheme joiner, which
/// render as nothing. Control characters (Cc) are `char::is_control`. The Cf list follows
/// Unicode 16.
pub fn is_hidden_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// `global` (a channel) or `private` (a user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTarget {
    Channel(Option<ChannelName>),
    User(String),
}

/// A chat line as sent: the typed fields plus every key the server does not own, which is relayed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub content: String,
    pub target: ChatTarget,
    /// The guest-naming `from` (ignored for logged-in users and named guests).
    pub from: Option<String>,
    /// Keys the server does not own, relayed untouched.
    pub extra: Map<String, Value>,
}

/// Which request type carried a chat line (`private` implies the private subtype).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Message,
    Private,
}

/// Which spelling of the user-list request was used; the reply type follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsersAlias {
    Users,
    UserList,
    ListUsers,
}

impl UsersAlias {
    pub fn reply_type(self) -> &'static str {
        match self {
            UsersAlias::Users | UsersAlias::UserList => "users",
            UsersAlias::ListUsers => "list_users",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub channel: Option<ChannelName>,
    pub with: Option<String>,
    pub limit: u32,
    pub before: Option<u64>,
}

/// One valid inbound request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Register {
        username: String,
        password: Secret,
    },
    Login {
        username: String,
        password: Secret,
    },
    Chat(ChatMessage),
    Status {
        state: Presence,
        user: Option<String>,
    },
    Users(UsersAlias),
    Who {
        channel: Option<ChannelName>,
    },
    JoinChannel {
        channel: ChannelName,
    },
    LeaveChannel {
        channel: ChannelName,
    },
    Channels,
    History(HistoryQuery),
    Ping,
    /// `hello`: the client names the extensions it understands (docs/PROTOCOL.md §2.5).
    Hello {
        features: Features,
    },
}

/// Extensions a client may announce with `hello`; each is off until announced, so a client
/// written before an extension existed never receives its lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features(u8);

/// One extension: its wire name and its bit in [`Features`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// `{"type":"kick",...}` before the kick notice.
    Kick,
    /// `{"type":"shutdown",...}` before the shutdown notice.
    Shutdown,
    /// No hold after the login reply: the client reads the socket continuously.
    NoHold,
    /// `{"type":"deleted","id":N}` when the operator deletes a relayed line: the client removes
    /// it from its screen.
    Deleted,
}

impl Feature {
    /// Every extension, in the order the `hello` reply lists them.
    pub const ALL: [Feature; 4] = [
        Feature::Kick,
        Feature::Shutdown,
        Feature::NoHold,
        Feature::Deleted,
    ];

    pub fn wire_name(self) -> &'static str {
        match self {
            Feature::Kick => "kick",
            Feature::Shutdown => "shutdown",
            Feature::NoHold => "no-hold",
            Feature::Deleted => "deleted",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Feature::Kick => 1,
            Feature::Shutdown => 2,
            Feature::NoHold => 4,
            Feature::Deleted => 8,
        }
    }
}

impl Features {
    pub fn has(self, feature: Feature) -> bool {
        self.0 & feature.bit() != 0
    }

    pub fn with(self, feature: Feature) -> Features {
        Features(self.0 | feature.bit())
    }

    /// The announced extensions, in [`Feature::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL.into_iter().filter(move |f| self.has(*f))
    }
}

/// Why a line was rejected. The connection stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    InvalidJson,
    NotAnObject,
    MissingType,
    UnknownType(String),
    MissingField(&'static str),
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    InvalidState(String),
    InvalidChannel(String),
    InvalidSubtype(String),
    InvalidNumber(&'static str),
    /// A binary WebSocket message: the protocol is JSON text.
    NotText,
}

/// Writes [`RequestError::reason`] and [`RequestError::REASONS`] from one table: a variant
/// without a reason does not compile, and the list the docs are tested against misses none.
macro_rules! reason_table {
    ($($variant:ident => $reason:literal,)+) => {
        /// Every [`RequestError::reason`], in declaration order.
        pub const REASONS: &'static [&'static str] = &[$($reason),+];

        /// Stable code for logs (`PROTOCOL_ERROR ip=... reason=...`).
        pub fn reason(&self) -> &'static str {
            match self {
                $(RequestError::$variant { .. } => $reason,)+
            }
        }
    };
}

impl RequestError {
    reason_table! {
        InvalidJson => "bad-json",
        NotAnObject => "not-an-object",
        MissingType => "missing-type",
        UnknownType => "unknown-type",
        MissingField => "missing-field",
        WrongType => "wrong-field-type",
        InvalidState => "bad-state",
        InvalidChannel => "bad-channel",
        InvalidSubtype => "bad-subtype",
        InvalidNumber => "bad-number",
        NotText => "binary-frame",
    }
}

/// The French text sent to the client.
impl fmt::Display for RequestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::InvalidJson => {
                formatter.write_str("JSON invalide : chaque ligne doit être un objet JSON.")
            }
            RequestError::NotAnObject => {
                formatter.write_str("Chaque ligne doit être un objet JSON ({...}).")
            }
            RequestError::MissingType => formatter.write_str("Champ \"type\" manquant."),
            RequestError::UnknownType(kind) => {
                write!(formatter, "Type inconnu : \"{}\".", shorten(kind))
            }
            RequestError::MissingField(field) => write!(formatter, "Champ \"{field}\" manquant."),
            RequestError::WrongType { field, expected } => {
                write!(formatter, "Le champ \"{field}\" doit être {expected}.")
            }
            RequestError::InvalidState(state) => write!(
                formatter,
                "État inconnu : \"{}\" (online, away, dnd ou invisible).",
                shorten(state)
            ),
            RequestError::InvalidChannel(name) => write!(
                formatter,
                "Nom de salon invalide : \"{}\" (1 à {MAX_CHANNEL_CHARS} caractères, sans espace).",
                shorten(name)
            ),
            RequestError::InvalidSubtype(subtype) => write!(
                formatter,
                "Sous-type inconnu : \"{}\" (global ou private).",
                shorten(subtype)
            ),
            RequestError::NotText => formatter.write_str(
                "Message binaire refusé : envoyez un objet JSON en texte (une trame texte).",
            ),
            RequestError::InvalidNumber(field) => {
                write!(
                    formatter,
                    "Le champ \"{field}\" doit être un entier positif."
                )
            }
        }
    }
}

/// Keeps echoed client text short in error messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

const STRING: &str = "une chaîne";

/// Parses one decoded line into a request.
pub fn parse_request(line: &str) -> Result<Request, RequestError> {
    let value: Value = serde_json::from_str(line).map_err(|_| RequestError::InvalidJson)?;
    let Value::Object(mut object) = value else {
        return Err(RequestError::NotAnObject);
    };
    let kind = match object.remove("type") {
        None | Some(Value::Null) => return Err(RequestError::MissingType),
        Some(Value::String(kind)) => kind,
        Some(_) => {
            return Err(RequestError::WrongType {
                field: "type",
                expected: STRING,
            })
        }
    };
    match kind.as_str() {
        "register" => {
            let (username, password) = credentials(&mut object)?;
            Ok(Request::Register { username, password })
        }
        "login" => {
            let (username, password) = credentials(&mut object)?;
            Ok(Request::Login { username, password })
        }
        "message" => chat(object, MessageKind::Message).map(Request::Chat),
        "private" => chat(object, MessageKind::Private).map(Request::Chat),
        "status" => {
            let raw = required_str(&mut object, "state")?;
            let state = Presence::parse(&raw).ok_or(RequestError::InvalidState(raw))?;
            let user = optional_str(&mut object, "user")?;
            Ok(Request::Status { state, user })
        }
        "users" => Ok(Request::Users(UsersAlias::Users)),
        "userlist" => Ok(Request::Users(UsersAlias::UserList)),
        "list_users" => Ok(Request::Users(UsersAlias::ListUsers)),
        "who" => Ok(Request::Who {
            channel: optional_channel(&mut object)?,
        }),
        "join_channel" => Ok(Request::JoinChannel {
            channel: required_channel(&mut object)?,
        }),
        "leave_channel" => Ok(Request::LeaveChannel {
            channel: required_channel(&mut object)?,
        }),
        "channels" => Ok(Request::Channels),
        "history" => history(&mut object).map(Request::History),
        "ping" => Ok(Request::Ping),
        "hello" => hello(&mut object).map(|features| Request::Hello { features }),
        _ => Err(RequestError::UnknownType(kind)),
    }
}

fn credentials(object: &mut Map<String, Value>) -> Result<(String, Secret), RequestError> {
    let username = required_str(object, "username")?;
    let password = required_str(object, "password")?;
    Ok((username, Secret::new(password)))
}

fn chat(mut object: Map<String, Value>, kind: MessageKind) -> Result<ChatMessage, RequestError> {
    let content = required_str(&mut object, "content")?;
    let subtype = optional_str(&mut object, "subtype")?;
    let private = match (kind, subtype.as_deref()) {
        (MessageKind::Private, None | Some("private")) => true,
        (MessageKind::Message, None | Some("global")) => false,
        (MessageKind::Message, Some("private")) => true,
        (_, Some(other)) => return Err(RequestError::InvalidSubtype(other.to_owned())),
    };
    let to = optional_str(&mut object, "to")?;
    let channel = optional_channel(&mut object)?;
    let from = optional_str(&mut object, "from")?;
    let target = if private {
        match to {
            Some(to) if !to.trim().is_empty() => ChatTarget::User(to.trim().to_owned()),
            _ => return Err(RequestError::MissingField("to")),
        }
    } else {
        // A global line's `to` (often "global") is the sender's own key: relayed untouched.
        if let Some(to) = to {
            object.insert("to".to_owned(), Value::String(to));
        }
        ChatTarget::Channel(channel)
    };
    // Keys the server owns are rewritten on relay; a client cannot forge a server notice.
    for owned in ["timestamp", "id", "system"] {
        object.remove(owned);
    }
    Ok(ChatMessage {
        content,
        target,
        from,
        extra: object,
    })
}

/// `features`: a list of names; names this server does not know are ignored (a newer client
/// may announce more than it knows), anything but a list of strings is an error.
fn hello(object: &mut Map<String, Value>) -> Result<Features, RequestError> {
    let wrong = RequestError::WrongType {
        field: "features",
        expected: "une liste de chaînes",
    };
    let names = match object.remove("features") {
        None | Some(Value::Null) => return Ok(Features::default()),
        Some(Value::Array(names)) => names,
        Some(_) => return Err(wrong),
    };
    let mut features = Features::default();
    for name in &names {
        let Value::String(name) = name else {
            return Err(wrong);
        };
        if let Some(feature) = Feature::ALL.into_iter().find(|f| f.wire_name() == name) {
            features = features.with(feature);
        }
    }
    Ok(features)
}

fn history(object: &mut Map<String, Value>) -> Result<HistoryQuery, RequestError> {
    let channel = optional_channel(object)?;
    let with = optional_str(object, "with")?;
    let limit = match optional_u64(object, "limit")? {
        None => HISTORY_DEFAULT_LIMIT,
        Some(limit) => u32::try_from(limit)
            .unwrap_or(HISTORY_MAX_LIMIT)
            .clamp(1, HISTORY_MAX_LIMIT),
    };
    let before = optional_u64(object, "before")?;
    Ok(HistoryQuery {
        channel,
        with,
        limit,
        before,
    })
}

fn required_str(
    object: &mut Map<String, Value>,
    field: &'static str,
) -> Result<String, RequestError> {
    optional_str(object, field)?.ok_or(RequestError::MissingField(field))
}

/// A missing or `null` optional field is absent; any other non-string is an error.
fn optional_str(
    object: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, RequestError> {
    match object.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(RequestError::WrongType {
            field,
            expected: STRING,
        }),
    }
}

fn optional_u64(
    object: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<u64>, RequestError> {
    match object.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .map(Some)
            .ok_or(RequestError::InvalidNumber(field)),
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| RequestError::InvalidNumber(field)),
        Some(_) => Err(RequestError::InvalidNumber(field)),
    }
}

fn optional_channel(object: &mut Map<String, Value>) -> Result<Option<ChannelName>, RequestError> {
    optional_str(object, "channel")?
        .map(|raw| ChannelName::parse(&raw))
        .transpose()
}

fn required_channel(object: &mut Map<String, Value>) -> Result<ChannelName, RequestError> {
    optional_channel(object)?.ok_or(RequestError::MissingField("channel"))
}

/// A `/join #c` or `/leave #c` typed as message content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    Join(Result<ChannelName, RequestError>),
    Leave(Result<ChannelName, RequestError>),
}

impl SlashCommand {
    pub fn parse(content: &str) -> Option<SlashCommand> {
        let content = content.trim();
        let (command, argument) = match content.split_once(char::is_whitespace) {
            Some((command, argument)) => (command, argument.trim()),
            None => (content, ""),
        };
        let channel = || {
            if argument.is_empty() {
                Err(RequestError::MissingField("channel"))
            } else {
                ChannelName::parse(argument)
            }
        };
        match command.to_lowercase().as_str() {
            "/join" => Some(SlashCommand::Join(channel())),
            "/leave" | "/part" => Some(SlashCommand::Leave(channel())),
            _ => None,
        }
    }
}

impl fmt::Display for NameProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            NameProblem::Empty => "le nom est vide",
            NameProblem::TooLong => "le nom dépasse 32 caractères",
            NameProblem::SurroundingSpace => "le nom commence ou finit par un espace",
            NameProblem::ControlCharacter => "le nom contient un caractère de contrôle",
            NameProblem::InvisibleCharacter(hidden) => {
                return write!(
                    formatter,
                    "le nom contient un caractère invisible ou de mise en forme (U+{:04X}), \
                     par exemple une inversion du sens d'écriture ou un espace de largeur nulle",
                    u32::from(*hidden)
                );
            }
            NameProblem::Reserved => "ce nom est réservé",
        })
    }
}

/// Why a password cannot be chosen for an account (the protocol's `register`, and the operator's
/// `user add` / `user passwd`: one rule for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    Empty,
    /// Fewer characters than the configured minimum.
    TooShort {
        min: usize,
    },
    TooLong,
}

/// Checks a new password: at least `min_chars` characters (never fewer than one), at most
/// [`MAX_PASSWORD_BYTES`] bytes.
pub fn check_password(password: &str, min_chars: usize) -> Result<(), PasswordProblem> {
    if password.is_empty() {
        Err(PasswordProblem::Empty)
    } else if password.len() > MAX_PASSWORD_BYTES {
        Err(PasswordProblem::TooLong)
    } else if password.chars().count() < min_chars {
        Err(PasswordProblem::TooShort { min: min_chars })
    } else {
        Ok(())
    }
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordProblem::Empty => formatter.write_str("mot de passe vide"),
            PasswordProblem::TooShort { min } => {
                write!(
                    formatter,
                    "mot de passe trop court ({min} caractères au moins)"
                )
            }
            PasswordProblem::TooLong => write!(
                formatter,
                "mot de passe trop long ({MAX_PASSWORD_BYTES} octets au plus)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn parse(line: &str) -> Result<Request, RequestError> {
        parse_request(line)
    }

    #[test]
    fn passwords_have_a_minimum_length_in_characters() {
        assert_eq!(check_password("", 6), Err(PasswordProblem::Empty));
        assert_eq!(
            check_password("abcde", 6),
            Err(PasswordProblem::TooShort { min: 6 })
        );
        assert_eq!(check_password("abcdef", 6), Ok(()));
        // Characters, not bytes: a French password is not shorter than it looks.
        assert_eq!(check_password("élève", 5), Ok(()));
        assert_eq!(
            check_password(&"x".repeat(MAX_PASSWORD_BYTES + 1), 6),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(
            PasswordProblem::TooShort { min: 6 }.to_string(),
            "mot de passe trop court (6 caractères au moins)"
        );
    }

    #[test]
    fn bad_json_is_an_error() {
        assert_eq!(parse("{not json"), Err(RequestError::InvalidJson));
        assert_eq!(parse("[1,2]"), Err(RequestError::NotAnObject));
        assert_eq!(parse("\"hello\""), Err(RequestError::NotAnObject));
    }

    #[test]
    fn missing_and_unknown_type() {
        assert_eq!(parse(r#"{"content":"x"}"#), Err(RequestError::MissingType));
        assert_eq!(
            parse(r#"{"type":"dance"}"#),
            Err(RequestError::UnknownType("dance".into()))
        );
        assert_eq!(
            parse(r#"{"type":7}"#),
            Err(RequestError::WrongType {
                field: "type",
                expected: STRING
            })
        );
    }

    #[test]
    fn missing_field_and_wrong_field_type() {
        assert_eq!(
            parse(r#"{"type":"login","username":"a"}"#),
            Err(RequestError::MissingField("password"))
        );
        assert_eq!(
            parse(r#"{"type":"message","content":5}"#),
            Err(RequestError::WrongType {
                field: "content",
                expected: STRING
            })
        );
        assert_eq!(
            parse(r#"{"type":"private","content":"x"}"#),
            Err(RequestError::MissingField("to"))
        );
    }

    #[test]
    fn register_and_login() {
        let Ok(Request::Login { username, password }) =
            parse(r#"{"type":"login","username":"alice","password":"pw"}"#)
        else {
            panic!("login should parse");
        };
        assert_eq!(username, "alice");
        assert_eq!(password.expose(), "pw");
        assert!(!alloc::format!("{password:?}").contains("pw"));
    }

    #[test]
    fn message_keeps_unknown_keys_and_drops_server_keys() {
        let Ok(Request::Chat(chat)) = parse(
            r#"{"type":"message","content":"hi","color":"red","timestamp":"x","id":3,"system":true}"#,
        ) else {
            panic!("message should parse");
        };
        assert_eq!(chat.target, ChatTarget::Channel(None));
        assert_eq!(chat.extra.len(), 1);
        assert_eq!(chat.extra["color"], "red");
    }

    #[test]
    fn global_message_keeps_the_senders_to() {
        let Ok(Request::Chat(chat)) = parse(r#"{"type":"message","to":"global","content":"hi"}"#)
        else {
            panic!("message should parse");
        };
        assert_eq!(chat.target, ChatTarget::Channel(None));
        assert_eq!(chat.extra["to"], "global");
    }

    #[test]
    fn private_forms() {
        let Ok(Request::Chat(a)) =
            parse(r#"{"type":"message","subtype":"private","to":"bob","content":"x"}"#)
        else {
            panic!()
        };
        let Ok(Request::Chat(b)) = parse(r#"{"type":"private","to":"bob","content":"x"}"#) else {
            panic!()
        };
        assert_eq!(a.target, ChatTarget::User("bob".into()));
        assert_eq!(b.target, ChatTarget::User("bob".into()));
        assert!(matches!(
            parse(r#"{"type":"message","subtype":"shout","content":"x"}"#),
            Err(RequestError::InvalidSubtype(_))
        ));
    }

    #[test]
    fn states_are_normalised() {
        for (raw, expected) in [
            ("online", Presence::Online),
            ("en ligne", Presence::Online),
            ("disponible", Presence::Online),
            ("absent", Presence::Away),
            ("do not disturb", Presence::Dnd),
            ("busy", Presence::Dnd),
            ("ne pas déranger", Presence::Dnd),
            ("offline", Presence::Invisible),
            ("Invisible", Presence::Invisible),
            ("Occupé", Presence::Dnd),
            (" ne pas de\u{301}ranger ", Presence::Dnd),
        ] {
            assert_eq!(Presence::parse(raw), Some(expected), "{raw}");
        }
        assert_eq!(Presence::parse("sleeping"), None);
        assert!(matches!(
            parse(r#"{"type":"status","state":"zzz"}"#),
            Err(RequestError::InvalidState(_))
        ));
    }

    #[test]
    fn channel_aliases_name_the_default_channel() {
        for raw in [
            "general",
            "#general",
            "général",
            "#général",
            "#Général",
            "GENERAL",
            "#ge\u{301}ne\u{301}ral",
        ] {
            assert_eq!(
                ChannelName::parse(raw).unwrap(),
                ChannelName::default_channel(),
                "{raw}"
            );
        }
    }

    #[test]
    fn channel_names_fold_case_and_keep_display() {
        let channel = ChannelName::parse("Java").unwrap();
        assert_eq!(channel.key, "#java");
        assert_eq!(channel.display, "#Java");
        assert_eq!(ChannelName::parse("#JAVA").unwrap().key, "#java");
        assert!(ChannelName::parse("#").is_err());
        assert!(ChannelName::parse("a b").is_err());
        assert!(ChannelName::parse(&"x".repeat(51)).is_err());
    }

    #[test]
    fn reserved_names_any_case() {
        for name in [
            "Serveur", "server", "admin", "ADMIN", "global", "Global", "invité", "INVITÉ",
        ] {
            assert!(is_reserved_name(name), "{name}");
            assert_eq!(check_name(name), Err(NameProblem::Reserved));
        }
        assert!(!is_reserved_name("alice"));
    }

    #[test]
    fn guest_names_fall_back_to_invite() {
        assert_eq!(guest_name(Some(" Zoé ")), "Zoé");
        assert_eq!(guest_name(Some("Serveur")), DEFAULT_GUEST_NAME);
        assert_eq!(guest_name(Some("")), DEFAULT_GUEST_NAME);
        assert_eq!(guest_name(Some(&"y".repeat(40))), DEFAULT_GUEST_NAME);
        assert_eq!(guest_name(None), DEFAULT_GUEST_NAME);
    }

    #[test]
    fn account_names_with_control_or_format_characters_are_refused() {
        assert_eq!(check_name("bob\nx"), Err(NameProblem::ControlCharacter));
        assert_eq!(check_name("a\u{7f}"), Err(NameProblem::ControlCharacter));
        for (name, hidden) in [
            ("\u{202E}gnp.exe", '\u{202E}'),
            ("al\u{200B}ice", '\u{200B}'),
            ("a\u{2066}b", '\u{2066}'),
            ("a\u{2028}b", '\u{2028}'),
            ("\u{FEFF}bob", '\u{FEFF}'),
            ("x\u{3164}", '\u{3164}'),
        ] {
            assert_eq!(
                check_name(name),
                Err(NameProblem::InvisibleCharacter(hidden)),
                "{name:?}"
            );
        }
        let text = NameProblem::InvisibleCharacter('\u{202E}').to_string();
        assert!(
            text.contains("invisible") && text.contains("U+202E"),
            "{text}"
        );
        // Visible non-ASCII names stay allowed.
        for name in [
            "Zoé",
            "Ærøskøbing",
            "Łukasz",
            "李雷",
            "Jean Dupont",
            "élève-1",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn hidden_characters_are_replaced_in_guest_names() {
        let replaced = guest_name(Some("\u{202E}gnp.exe"));
        assert_eq!(replaced, "\u{FFFD}gnp.exe");
        assert!(!replaced.chars().any(is_hidden_char));
        assert_eq!(guest_name(Some("a\tb")), "a\u{FFFD}b");
        assert_eq!(guest_name(Some("zo\u{200B}e")), "zo\u{FFFD}e");
        assert_eq!(
            guest_name(Some("bob\n... AUTH_FAIL ip=10.9.9.9")),
            "bob\u{FFFD}... AUTH_FAIL ip=10.9.9.9"
        );
        // Nothing left once the hidden characters are gone: the default name.
        assert_eq!(guest_name(Some("\u{200B}\u{202E}")), DEFAULT_GUEST_NAME);
        assert_eq!(guest_name(Some("\u{0}")), DEFAULT_GUEST_NAME);
        // Surrounding white space (including line separators) is trimmed, not replaced.
        assert_eq!(guest_name(Some("\u{2028}Zoé\n")), "Zoé");
    }

    #[test]
    fn hidden_characters_cover_bidi_zero_width_and_separators() {
        for c in [
            '\u{AD}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{2028}',
            '\u{2029}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{E0041}',
        ] {
            assert!(is_hidden_char(c), "U+{:04X}", u32::from(c));
        }
        for c in ['a', 'é', ' ', '\u{FFFD}', '李', '\u{1F600}'] {
            assert!(!is_hidden_char(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn channel_names_with_hidden_characters_are_refused() {
        assert!(ChannelName::parse("#\u{202E}lavahc").is_err());
        assert!(ChannelName::parse("java\u{200B}").is_err());
    }

    #[test]
    fn history_limits() {
        let Ok(Request::History(query)) = parse(r#"{"type":"history"}"#) else {
            panic!()
        };
        assert_eq!(query.limit, HISTORY_DEFAULT_LIMIT);
        let Ok(Request::History(query)) =
            parse(r#"{"type":"history","limit":100000,"before":"12"}"#)
        else {
            panic!()
        };
        assert_eq!((query.limit, query.before), (HISTORY_MAX_LIMIT, Some(12)));
        assert!(parse(r#"{"type":"history","limit":-1}"#).is_err());
    }

    #[test]
    fn slash_commands() {
        assert_eq!(
            SlashCommand::parse("/join #Java"),
            Some(SlashCommand::Join(Ok(ChannelName::parse("Java").unwrap())))
        );
        assert!(matches!(
            SlashCommand::parse("/leave"),
            Some(SlashCommand::Leave(Err(_)))
        ));
        assert_eq!(SlashCommand::parse("/me waves"), None);
        assert_eq!(SlashCommand::parse("hello /join"), None);
    }

    #[test]
    fn user_list_aliases() {
        assert_eq!(
            parse(r#"{"type":"list_users"}"#),
            Ok(Request::Users(UsersAlias::ListUsers))
        );
        assert_eq!(UsersAlias::ListUsers.reply_type(), "list_users");
        assert_eq!(
            parse(r#"{"type":"userlist"}"#),
            Ok(Request::Users(UsersAlias::UserList))
        );
    }
}
