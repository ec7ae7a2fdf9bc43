//! SIMULATED ApplicationSet templating (`goTemplate: true`, `missingkey=error`): every string of
//! the template has its `{{ … }}` actions evaluated against one generator's parameters. What Argo
//! CD does (`applicationset/utils/utils.go`, Go's text/template with sprig): field paths
//! (`.a.b`), string literals, function calls and pipelines. What is simulated: those, with the
//! sprig functions the bundle's sets use; anything else is an error that names it, so a set that
//! needs more fails here rather than rendering something real Argo CD would not.

use serde_json::Value;

/// Render every string of `template` with `params`.
pub fn render(template: &Value, params: &Value) -> Result<Value, String> {
    Ok(match template {
        Value::String(s) => Value::String(render_str(s, params)?),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((render_str(k, params)?, render(v, params)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| render(v, params))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// Render one string: text outside `{{ }}` is kept, each action replaced by its value.
pub fn render_str(s: &str, params: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("template: unclosed action in {s:?}"))?;
        let action = after[..end].trim_start_matches('-').trim_end_matches('-');
        out.push_str(&eval(action.trim(), params)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Field(String),
    Str(String),
    Ident(String),
    Pipe,
}

fn tokenize(action: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' => {
                chars.next();
            }
            '|' => {
                chars.next();
                tokens.push(Token::Pipe);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(other) => s.push(other),
                            None => return Err("template: unterminated quoted string".into()),
                        },
                        Some(other) => s.push(other),
                        None => return Err("template: unterminated quoted string".into()),
                    }
                }
                tokens.push(Token::Str(s));
            }
            '`' => {
                chars.next();
                let s: String = chars.by_ref().take_while(|c| *c != '`').collect();
                tokens.push(Token::Str(s));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '|' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(if word.starts_with('.') {
                    Token::Field(word)
                } else {
                    Token::Ident(word)
                });
            }
        }
    }
    Ok(tokens)
}

/// `.a.b` in `params`; a missing key is an error (`missingkey=error`).
fn lookup(params: &Value, path: &str) -> Result<Value, String> {
    let mut v = params;
    for key in path
        .trim_start_matches('.')
        .split('.')
        .filter(|k| !k.is_empty())
    {
        v = v
            .get(key)
            .ok_or_else(|| format!("template: map has no entry for key {key:?}"))?;
    }
    Ok(v.clone())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn eval(action: &str, params: &Value) -> Result<String, String> {
    let tokens = tokenize(action)?;
    let mut piped: Option<String> = None;
    for command in tokens.split(|t| *t == Token::Pipe) {
        let args = |rest: &[Token]| -> Result<Vec<String>, String> {
            rest.iter()
                .map(|t| match t {
                    Token::Field(p) => lookup(params, p).map(|v| text(&v)),
                    Token::Str(s) => Ok(s.clone()),
                    other => Err(format!("template: unsupported argument {other:?}")),
                })
                .collect()
        };
        let value = match command {
            [Token::Field(p)] if piped.is_none() => text(&lookup(params, p)?),
            [Token::Str(s)] if piped.is_none() => s.clone(),
            [Token::Ident(f), rest @ ..] => {
                let mut a = args(rest)?;
                a.extend(piped.take());
                call(f, &a)?
            }
            other => return Err(format!("template: kube-sim cannot evaluate {other:?}")),
        };
        piped = Some(value);
    }
    Ok(piped.unwrap_or_default())
}

/// The sprig functions the bundle's ApplicationSets call, with sprig's argument order.
fn call(f: &str, a: &[String]) -> Result<String, String> {
    match (f, a) {
        ("regexReplaceAll", [re, s, replacement]) => regex::Regex::new(re)
            .map(|re| re.replace_all(s, replacement.as_str()).into_owned())
            .map_err(|e| format!("template: regexReplaceAll: {e}")),
        ("lower", [s]) => Ok(s.to_lowercase()),
        ("upper", [s]) => Ok(s.to_uppercase()),
        ("replace", [old, new, s]) => Ok(s.replace(old.as_str(), new)),
        _ => Err(format!(
            "template: function {f:?} with {} arguments is not simulated (kube-sim knows regexReplaceAll, lower, upper, replace)",
            a.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_pipelines_and_the_team_topic_expression() {
        let params = json!({"name": "api", "path": {"filename": "a.yaml"}, "labels": "idp-managed,team-payments"});
        assert_eq!(render_str("{{ .name }}-x", &params).as_deref(), Ok("api-x"));
        assert_eq!(
            render_str("$values/t/{{ .path.filename }}", &params).as_deref(),
            Ok("$values/t/a.yaml")
        );
        assert_eq!(
            render_str("{{ .name | upper }}", &params).as_deref(),
            Ok("API")
        );
        let team = r#"{{ regexReplaceAll "^(?:.*,)?(team-[a-z0-9-]+)(?:,.*)?$" .labels "${1}" }}"#;
        assert_eq!(render_str(team, &params).as_deref(), Ok("team-payments"));
        assert_eq!(
            render_str(team, &json!({"labels": "idp-managed"})).as_deref(),
            Ok("idp-managed"),
            "no team topic: the labels as they are (no such project)"
        );
        assert!(
            render_str("{{ .missing }}", &params)
                .expect_err("refused")
                .contains("no entry")
        );
        assert!(
            render_str("{{ splitList \",\" .labels }}", &params)
                .expect_err("refused")
                .contains("not simulated")
        );
    }
}
