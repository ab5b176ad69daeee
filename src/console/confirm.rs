//! The operator's answer to "Confirmer ? (oui/non)". Only a clear yes confirms: anything else
//! cancels (an unclear answer is named, so a mistyped `ouii` is not taken for a no in silence).

/// The question the console asks after saying what a command will do.
pub const QUESTION: &str = "Confirmer ? (oui/non) ";

/// What an answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Neither: the command is cancelled, and this is what was typed.
    Unclear(String),
}

/// Reads a typed answer: `oui`/`o`/`yes`/`y` confirm, `non`/`n`/`no` or nothing cancel, in any
/// letter case and with surrounding spaces.
pub fn understood(typed: &str) -> Answer {
    let answer = typed.trim().to_lowercase();
    match answer.as_str() {
        "oui" | "o" | "yes" | "y" => Answer::Yes,
        "non" | "n" | "no" | "" => Answer::No,
        _ => Answer::Unclear(typed.trim().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clear_yes_confirms() {
        for yes in ["oui", "OUI", " o ", "yes", "Y"] {
            assert_eq!(understood(yes), Answer::Yes, "{yes:?}");
        }
        for no in ["non", "N", "no", "", "  "] {
            assert_eq!(understood(no), Answer::No, "{no:?}");
        }
        for unclear in ["ouii", "peut-être", "who", "oui oui"] {
            assert_eq!(
                understood(unclear),
                Answer::Unclear(unclear.to_owned()),
                "{unclear:?}"
            );
        }
    }
}
