//! az's output: `--query` (JMESPath) then `--output json|jsonc|table|tsv|yaml|none`.

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::Value;

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum Format {
    #[default]
    Json,
    Jsonc,
    Table,
    Tsv,
    Yaml,
    Yamlc,
    None,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(
        long,
        short = 'o',
        visible_alias = "out",
        global = true,
        value_enum,
        default_value = "json"
    )]
    pub output: Format,
    /// JMESPath query string, e.g. "[*].identity.principalId". See http://jmespath.org/.
    #[arg(long, global = true)]
    pub query: Option<String>,
    /// Accepted for az compatibility.
    #[arg(long, global = true, hide = true)]
    pub only_show_errors: bool,
    /// Accepted for az compatibility.
    #[arg(long, global = true, hide = true)]
    pub verbose: bool,
}

impl OutputArgs {
    /// Prints a command's result; `null` (a delete) prints nothing, like az.
    pub fn print(&self, value: Value) -> anyhow::Result<()> {
        let value = match &self.query {
            Some(q) => query(q, value)?,
            None => value,
        };
        if value.is_null() && self.query.is_none() {
            return Ok(());
        }
        let text = render(self.output, &value)?;
        if text.is_empty() {
            return Ok(());
        }
        use std::io::Write;
        match writeln!(std::io::stdout().lock(), "{text}") {
            // A reader that stopped early (`| head -n 1`) is not a failure of the command.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }
}

pub fn query(expr: &str, value: Value) -> anyhow::Result<Value> {
    let compiled = jmespath::compile(expr)
        .map_err(|e| anyhow::anyhow!("argument --query: invalid jmespath_type value: {expr:?}\n{e}"))?;
    let var = jmespath::Variable::from_serializable(&value).context("cannot query this output")?;
    let found = compiled
        .search(var)
        .map_err(|e| anyhow::anyhow!("--query {expr:?}: {e}"))?;
    serde_json::to_value(&*found).context("cannot render the query's result")
}

pub fn render(format: Format, value: &Value) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json | Format::Jsonc => serde_json::to_string_pretty(value)?,
        Format::Tsv => tsv(value),
        Format::Table => table(value),
        Format::Yaml | Format::Yamlc => {
            let mut out = String::new();
            yaml(value, 0, &mut out);
            out.trim_end().to_owned()
        }
        Format::None => String::new(),
    })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// az's tsv: one line per list item; an object's scalar fields tab-separated, nested values dropped.
fn tsv(value: &Value) -> String {
    let line = |v: &Value| match v {
        Value::Object(map) => map.values().filter_map(scalar).collect::<Vec<_>>().join("\t"),
        Value::Array(items) => items.iter().filter_map(scalar).collect::<Vec<_>>().join("\t"),
        other => scalar(other).unwrap_or_default(),
    };
    match value {
        Value::Array(items) => items.iter().map(line).collect::<Vec<_>>().join("\n"),
        other => line(other),
    }
}

fn table(value: &Value) -> String {
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut headers: Vec<String> = Vec::new();
    for r in &rows {
        match r {
            Value::Object(map) => {
                for (k, v) in map {
                    if scalar(v).is_some() && !headers.contains(k) {
                        headers.push(k.clone());
                    }
                }
            }
            _ => {
                if !headers.iter().any(|h| h == "Result") {
                    headers.push("Result".into());
                }
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            headers
                .iter()
                .map(|h| match r {
                    Value::Object(map) => map.get(h).and_then(scalar).unwrap_or_default(),
                    other => scalar(other).unwrap_or_default(),
                })
                .collect()
        })
        .collect();
    let titles: Vec<String> = headers.iter().map(|h| title(h)).collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([titles[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let fmt_row = |row: &[String]| {
        row.iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![fmt_row(&titles)];
    out.push(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.extend(cells.iter().map(|c| fmt_row(c)));
    out.join("\n")
}

/// `resourceGroup` → `ResourceGroup`, as az titles its table columns.
fn title(key: &str) -> String {
    let mut c = key.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && !s.contains([
                    ':', '#', '\'', '"', '\n', '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@',
                ])
                && !s.starts_with([' ', '-', '?'])
                && !s.ends_with(' ')
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "~"
                )
                && s.parse::<f64>().is_err();
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        other => other.to_string(),
    }
}

fn yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, val) in map {
                match val {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        yaml(val, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        yaml(val, indent, out);
                    }
                    other => out.push_str(&format!("{pad}{k}: {}\n", inline(other))),
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                let mut inner = String::new();
                match item {
                    Value::Object(m) if !m.is_empty() => yaml(item, indent + 2, &mut inner),
                    Value::Array(a) if !a.is_empty() => yaml(item, indent + 2, &mut inner),
                    other => inner = format!("{}{}\n", " ".repeat(indent + 2), inline(other)),
                }
                // The first line of the item goes after the dash.
                out.push_str(&format!("{pad}- {}", &inner[(indent + 2).min(inner.len())..]));
            }
        }
        other => out.push_str(&format!("{pad}{}\n", inline(other))),
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => yaml_scalar(other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tsv_prints_a_column_of_principal_ids() {
        let v = query(
            "[*].identity.principalId",
            json!([{"identity": {"principalId": "a"}}, {"name": "x"}]),
        )
        .unwrap();
        assert_eq!(render(Format::Tsv, &v).unwrap(), "a");
    }

    #[test]
    fn yaml_nests_lists_and_maps() {
        let text = render(Format::Yaml, &json!({"a": [{"b": 1, "c": "x:y"}], "d": true})).unwrap();
        assert_eq!(text, "a:\n- b: 1\n  c: \"x:y\"\nd: true");
    }
}
