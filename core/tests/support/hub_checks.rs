//! What every frame the hub sends must look like (PROTOCOL.md §1, §6): one valid line (see
//! wire.rs) whose fields are what strict clients read with `getString`. Used by hub_model.rs.

use serde_json::{Map, Value};

use super::wire;

fn string_field<'v>(object: &'v Map<String, Value>, key: &str) -> Result<&'v str, String> {
    match object.get(key) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(format!("frame without string {key:?}")),
    }
}

/// The problem with a frame's fields, if any.
fn field_problem(object: &Map<String, Value>) -> Result<Option<&'static str>, String> {
    match string_field(object, "type")? {
        "message" => {
            let subtype = string_field(object, "subtype")?;
            let from = string_field(object, "from")?;
            let content = string_field(object, "content")?;
            if subtype != "global" && subtype != "private" {
                return Ok(Some("unknown subtype"));
            }
            if subtype == "private" {
                string_field(object, "to")?;
            }
            if from != "Serveur" && content.trim().is_empty() {
                return Ok(Some("blank chat line relayed"));
            }
        }
        "status" => {
            string_field(object, "user")?;
            let state = string_field(object, "state")?;
            if !["online", "away", "dnd", "invisible", "offline"].contains(&state) {
                return Ok(Some("unknown status state"));
            }
        }
        "users" | "list_users" | "who" => match object.get("users") {
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            _ => return Ok(Some("users is not an array of strings")),
        },
        "history" => match object.get("messages") {
            Some(Value::Array(items)) => {
                for item in items {
                    let Value::Object(item) = item else {
                        return Ok(Some("history item is not an object"));
                    };
                    for key in ["from", "content", "timestamp", "subtype"] {
                        string_field(item, key)?;
                    }
                    if !item.get("id").is_some_and(Value::is_u64) {
                        return Ok(Some("history item without a numeric id"));
                    }
                }
            }
            _ => return Ok(Some("history without a messages array")),
        },
        "error" => {
            let message = string_field(object, "message")?;
            if Some(message) != object.get("error").and_then(Value::as_str) {
                return Ok(Some("error without the same message and error"));
            }
        }
        _ => {}
    }
    Ok(None)
}

/// A valid line with the fields strict clients read, or what is wrong with it.
pub fn read_frame(frame: &[u8]) -> Result<Value, String> {
    let object = wire::read_line(frame)?;
    let problem = field_problem(&object);
    let line = Value::Object(object);
    match problem {
        Ok(None) => Ok(line),
        Ok(Some(what)) => Err(format!("{what}: {line}")),
        Err(what) => Err(format!("{what}: {line}")),
    }
}
