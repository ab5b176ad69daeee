//! Passwords as the operator gives them: asked twice without echo on a terminal, otherwise one
//! line from standard input (`echo "$MDP" | classcord user add alice`). Never printed. The
//! account rules (minimum length...) are checked where the account is written.

use std::io::{BufRead, IsTerminal, Write};

/// Asks twice without echo on a terminal; otherwise reads one line from standard input. The
/// error is a French sentence.
pub fn read_password(name: &str) -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = prompt_hidden(&format!("Mot de passe pour « {name} » : "))?;
        let second = prompt_hidden("Confirmez le mot de passe : ")?;
        if first != second {
            return Err("les deux mots de passe diffèrent : rien n'a été changé".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    let read = stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("lecture impossible de l'entrée standard : {e}"))?;
    if read == 0 {
        return Err("aucun mot de passe reçu sur l'entrée standard".into());
    }
    Ok(trim_line_end(line))
}

fn trim_line_end(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

/// Reads one line from the terminal with echo off (restored even if the read fails).
pub fn prompt_hidden(prompt: &str) -> Result<String, String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let unreadable = |e: &dyn std::fmt::Display| format!("lecture impossible du terminal : {e}");
    let stdin = std::io::stdin();
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{prompt}");
    let _ = stderr.flush();
    let original = tcgetattr(&stdin).map_err(|e| unreadable(&e))?;
    let mut silent = original.clone();
    silent.local_flags.remove(LocalFlags::ECHO);
    silent.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&stdin, SetArg::TCSANOW, &silent).map_err(|e| unreadable(&e))?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &original);
    match read {
        Ok(0) => Err("aucun mot de passe saisi".into()),
        Ok(_) => Ok(trim_line_end(line)),
        Err(e) => Err(unreadable(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_go_spaces_stay() {
        assert_eq!(trim_line_end("mdp \r\n".into()), "mdp ");
        assert_eq!(trim_line_end("mdp\n".into()), "mdp");
        assert_eq!(trim_line_end("mdp".into()), "mdp");
    }
}
