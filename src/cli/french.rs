//! argh's own words in French. argh writes its help frame (`Usage:`, `Options:`, `display usage
//! information`) and its refusals (`Unrecognized argument`, `Required options not provided`) in
//! English; [`from_env`] catches those early exits and prints them translated, with the way to
//! the right `--help`.

use std::io::Write;

use argh::{FromArgs, SubCommands};

use super::Cli;

/// Parses the process's arguments; on `--help` prints the French help and exits 0, on a mistake
/// prints it in French on stderr and exits 1.
pub fn from_env() -> Cli {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| {
            arg.into_string().unwrap_or_else(|arg| {
                eprintln!(
                    "classcord : erreur : argument illisible (pas en UTF-8) : {}",
                    arg.to_string_lossy()
                );
                std::process::exit(1)
            })
        })
        .collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match Cli::from_args(&["classcord"], &words) {
        Ok(cli) => cli,
        Err(exit) if exit.status.is_ok() => {
            // `classcord --help | head` must not panic when the pipe closes.
            let _ = writeln!(std::io::stdout(), "{}", french(&exit.output).trim_end());
            std::process::exit(0)
        }
        Err(exit) => {
            eprintln!(
                "classcord : erreur : {}\nAide : {} --help",
                french(&exit.output).trim_end(),
                command_path(&words)
            );
            std::process::exit(1)
        }
    }
}

/// `classcord`, `classcord export`, `classcord user add`: the command whose help fits.
pub fn command_path(args: &[&str]) -> String {
    let mut path = String::from("classcord");
    let top = <super::Command as SubCommands>::COMMANDS;
    let Some(first) = args.iter().find(|arg| !arg.starts_with('-')) else {
        return path;
    };
    if top.iter().any(|info| info.name == *first) {
        path.push(' ');
        path.push_str(first);
        if *first == "user" {
            let second = args.iter().skip_while(|arg| *arg != first).nth(1);
            let actions = <super::user::Action as SubCommands>::COMMANDS;
            if let Some(second) = second.filter(|second| actions.iter().any(|a| a.name == **second))
            {
                path.push(' ');
                path.push_str(second);
            }
        }
    }
    path
}

/// argh's output, its English frame and refusals said in French.
pub fn french(output: &str) -> String {
    output
        .lines()
        .map(french_line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn french_line(line: &str) -> String {
    const WHOLE: [(&str, &str); 8] = [
        ("Positional Arguments:", "Arguments :"),
        ("Notes:", "Remarques :"),
        ("Options:", "Options :"),
        ("Commands:", "Commandes :"),
        (
            "Required options not provided:",
            "option(s) obligatoire(s) absente(s) :",
        ),
        (
            "Required positional arguments not provided:",
            "argument(s) obligatoire(s) absent(s) :",
        ),
        (
            "One of the following subcommands must be present:",
            "une de ces commandes est attendue :",
        ),
        (
            "Trailing arguments are not allowed after `help`.",
            "rien ne peut suivre « help ».",
        ),
    ];
    if let Some((_, said)) = WHOLE.iter().find(|(english, _)| line == *english) {
        return (*said).to_owned();
    }
    if let Some(rest) = line.strip_prefix("Usage: ") {
        return format!(
            "Utilisation : {}",
            rest.replace("[<command>] [<args>]", "[<commande>] [<arguments>]")
                .replace("<command> [<args>]", "<commande> [<arguments>]")
        );
    }
    if let Some(argument) = line.strip_prefix("Unrecognized argument: ") {
        return format!("argument inconnu : {argument}");
    }
    if let Some(rest) = line.strip_prefix("No value provided for option '") {
        let option = rest.trim_end_matches("'.");
        return format!("l'option {option} attend une valeur");
    }
    for (english, what) in [
        ("Error parsing option '", "option"),
        ("Error parsing positional argument '", "argument"),
    ] {
        if let Some(rest) = line.strip_prefix(english) {
            if let Some((name, rest)) = rest.split_once("' with value '") {
                if let Some((value, why)) = rest.split_once("': ") {
                    return format!(
                        "{what} {name} : valeur « {value} » refusée ({})",
                        reason(why)
                    );
                }
            }
        }
    }
    if let Some(at) = line.find("display usage information") {
        return format!("{}affiche cette aide", &line[..at]);
    }
    line.to_owned()
}

/// The standard library's number parsing errors (argh shows them for numeric options).
fn reason(why: &str) -> &str {
    match why.trim() {
        "invalid digit found in string" => "ce n'est pas un nombre entier positif",
        "number too large to fit in target type" => "nombre trop grand",
        "cannot parse integer from empty string" => "valeur vide",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn early_exit(args: &[&str]) -> (String, bool) {
        match Cli::from_args(&["classcord"], args) {
            Ok(_) => panic!("{args:?} parsed"),
            Err(exit) => (french(&exit.output), exit.status.is_ok()),
        }
    }

    /// argh's English words that must never reach the operator.
    const ENGLISH: [&str; 11] = [
        "Usage:",
        "Notes:",
        "Options:",
        "Commands:",
        "Positional Arguments:",
        "display usage information",
        "Unrecognized argument",
        "Required options not provided",
        "Required positional",
        "No value provided",
        "Error parsing",
    ];

    fn assert_french(text: &str) {
        for english in ENGLISH {
            assert!(!text.contains(english), "{english:?} in:\n{text}");
        }
    }

    #[test]
    fn every_help_is_french() {
        let mut commands: Vec<Vec<&str>> = vec![vec!["--help"]];
        for info in <super::super::Command as SubCommands>::COMMANDS {
            commands.push(vec![info.name, "--help"]);
        }
        for action in <super::super::user::Action as SubCommands>::COMMANDS {
            commands.push(vec!["user", action.name, "--help"]);
        }
        for args in commands {
            let (text, ok) = early_exit(&args);
            assert!(ok, "{args:?}");
            assert_french(&text);
            assert!(text.starts_with("Utilisation : classcord"), "{text}");
            assert!(text.contains("affiche cette aide"), "{text}");
        }
    }

    #[test]
    fn refusals_are_french() {
        for (args, expected) in [
            (vec!["serve", "--bogus"], "argument inconnu : --bogus"),
            (
                vec!["export", "--data", "d"],
                "option(s) obligatoire(s) absente(s) :",
            ),
            (
                vec!["export", "--format"],
                "l'option --format attend une valeur",
            ),
            (
                vec!["user", "add"],
                "argument(s) obligatoire(s) absent(s) :",
            ),
            (vec!["user"], "une de ces commandes est attendue :"),
            (
                vec!["backup", "--out", "x", "--keep", "deux"],
                "option --keep : valeur « deux » refusée (ce n'est pas un nombre entier positif)",
            ),
        ] {
            let (text, ok) = early_exit(&args);
            assert!(!ok, "{args:?}");
            assert!(text.contains(expected), "{args:?}: {text}");
            assert_french(&text);
        }
    }

    #[test]
    fn the_hint_names_the_command_whose_help_fits() {
        assert_eq!(command_path(&["export", "--format"]), "classcord export");
        assert_eq!(
            command_path(&["user", "add", "x", "--y"]),
            "classcord user add"
        );
        assert_eq!(command_path(&["user", "--data", "d"]), "classcord user");
        assert_eq!(command_path(&["--bogus"]), "classcord");
        assert_eq!(command_path(&["danse"]), "classcord");
    }
}
