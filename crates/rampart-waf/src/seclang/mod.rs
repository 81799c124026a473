//! SecLang directive parser (see the engine module for the compiled form).
//!
//! This layer only knows the text format: logical lines (backslash
//! continuations joined, comments dropped), a directive name followed by
//! arguments (double- or single-quoted with `\"` escapes, or bare words),
//! and the two inner syntaxes a `SecRule` carries: the `|`-separated target
//! list and the comma-separated action list. Meaning is the engine's job.

#[cfg(test)]
mod tests;

/// One directive as written: `line` is where its first physical line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub line: usize,
    pub name: String,
    pub args: Vec<String>,
}

/// A syntax error and the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Splits a configuration text into directives.
pub fn parse_directives(text: &str) -> Result<Vec<Directive>, SyntaxError> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0usize;
    let mut continuing = false;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if !continuing {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            start_line = number;
            logical.clear();
        }
        if let Some(head) = line.strip_suffix('\\') {
            logical.push_str(head);
            continuing = true;
            continue;
        }
        logical.push_str(line);
        continuing = false;
        if let Some(directive) = split_directive(&logical, start_line)? {
            out.push(directive);
        }
    }
    if continuing && let Some(directive) = split_directive(&logical, start_line)? {
        out.push(directive);
    }
    Ok(out)
}

fn split_directive(text: &str, line: usize) -> Result<Option<Directive>, SyntaxError> {
    let words = split_words(text).map_err(|message| SyntaxError { line, message })?;
    let mut words = words.into_iter();
    let Some(name) = words.next() else {
        return Ok(None);
    };
    Ok(Some(Directive {
        line,
        name,
        args: words.collect(),
    }))
}

/// Whitespace-separated words; a quoted word keeps everything up to its
/// closing quote, and only `\"` (or `\'` in single quotes) is unescaped
/// so regex escapes such as `\d` pass through untouched.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            break;
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '\\' {
                    // A backslash pairs with the next character (so `\\"`
                    // still closes the word); only the quote loses it.
                    match chars.next() {
                        Some(n) if n == first => word.push(n),
                        Some(n) => {
                            word.push('\\');
                            word.push(n);
                        }
                        None => word.push('\\'),
                    }
                } else if c == first {
                    closed = true;
                    break;
                } else {
                    word.push(c);
                }
            }
            if !closed {
                return Err(format!("unterminated quoted argument `{first}{word}`"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// One action of an action list: `name` or `name:value` (quotes removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAction {
    pub name: String,
    pub value: Option<String>,
}

/// Splits `id:1,phase:2,msg:'a, b'` at the commas outside single quotes.
pub fn split_actions(text: &str) -> Result<Vec<RawAction>, String> {
    let mut actions = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_quote && chars.peek() == Some(&'\'') => {
                current.push('\\');
                current.push('\'');
                chars.next();
            }
            '\'' => {
                in_quote = !in_quote;
                current.push(c);
            }
            ',' if !in_quote => {
                push_action(&mut actions, &current)?;
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if in_quote {
        return Err(format!("unterminated quote in actions `{text}`"));
    }
    push_action(&mut actions, &current)?;
    Ok(actions)
}

fn push_action(actions: &mut Vec<RawAction>, text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let (name, value) = match text.split_once(':') {
        Some((name, value)) => (name.trim(), Some(unquote_action_value(value.trim()))),
        None => (text, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("malformed action `{text}`"));
    }
    actions.push(RawAction {
        name: name.to_owned(),
        value,
    });
    Ok(())
}

fn unquote_action_value(value: &str) -> String {
    let inner = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    inner.replace("\\'", "'")
}

fn is_xml(target_so_far: &str) -> bool {
    target_so_far
        .trim()
        .trim_start_matches(['!', '&'])
        .trim_end_matches(':')
        .eq_ignore_ascii_case("XML")
}

/// Splits a target list at `|`, except inside a `/regex/` selector.
pub fn split_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_regex = false;
    let mut prev_colon = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_regex {
            current.push(c);
            if c == '\\' {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            } else if c == '/' {
                in_regex = false;
            }
            prev_colon = false;
            continue;
        }
        match c {
            '|' => {
                let t = current.trim();
                if !t.is_empty() {
                    out.push(t.to_owned());
                }
                current.clear();
            }
            // XML selectors are XPath, which also starts with `/`.
            '/' if prev_colon && !is_xml(&current) => {
                in_regex = true;
                current.push(c);
            }
            _ => current.push(c),
        }
        prev_colon = c == ':';
    }
    let t = current.trim();
    if !t.is_empty() {
        out.push(t.to_owned());
    }
    out
}
