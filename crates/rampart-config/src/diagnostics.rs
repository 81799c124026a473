//! Positioned error messages. Problems are collected as byte offsets while the
//! document is walked and only turned into `FILE:LINE:COL` at the end, so the
//! walker never has to think about lines.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a configuration file. Displays as `FILE:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{col}: {message}", file.display())]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, counted in characters (not bytes).
    pub col: usize,
    pub message: String,
}

/// Every problem found in a configuration file, sorted by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigErrors {
    /// A single problem that has no better position than the start of the file
    /// (an unreadable file, for instance).
    pub fn at_start(file: &Path, message: impl Into<String>) -> Self {
        Self {
            diagnostics: vec![Diagnostic {
                file: file.to_path_buf(),
                line: 1,
                col: 1,
                message: message.into(),
            }],
        }
    }

    pub fn len(&self) -> usize {
        self.diagnostics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.diagnostics.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.diagnostics.iter()
    }
}

/// Maps byte offsets to 1-based line and character column.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    /// Byte offset at which each line starts; always has at least one entry.
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self { text, starts }
    }

    /// `(line, col)`, both 1-based. Offsets past the end clamp to the end, and
    /// an offset inside a multi-byte character counts the partial character,
    /// so no input can make this panic.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        // `starts[0] == 0 <= offset`, so the partition point is at least 1.
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let col = match self.text.get(start..offset) {
            Some(s) => s.chars().count(),
            None => {
                String::from_utf8_lossy(self.text.as_bytes().get(start..offset).unwrap_or_default())
                    .chars()
                    .count()
            }
        };
        (line, col + 1)
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.position(offset).0
    }
}

/// Collects problems during a walk of one document.
pub(crate) struct Diags<'t> {
    lines: LineIndex<'t>,
    items: Vec<(usize, String)>,
}

impl<'t> Diags<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Self {
            lines: LineIndex::new(text),
            items: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        self.items.push((span.start, message.into()));
    }

    /// Line number of an offset, for messages that point back at an earlier
    /// definition ("already used by site \"shop\" (line 12)").
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.lines.line(offset)
    }

    /// The document being walked, for messages that look at how a value
    /// was written (an expression's column inside its string literal).
    pub(crate) fn text(&self) -> &'t str {
        self.lines.text
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.items.is_empty()
    }

    pub(crate) fn finish(self, file: &Path) -> ConfigErrors {
        let mut diagnostics: Vec<Diagnostic> = self
            .items
            .into_iter()
            .map(|(offset, message)| {
                let (line, col) = self.lines.position(offset);
                Diagnostic {
                    file: file.to_path_buf(),
                    line,
                    col,
                    message,
                }
            })
            .collect();
        // Stable, so problems at the same position keep the order they were found in.
        diagnostics.sort_by_key(|d| (d.line, d.col));
        ConfigErrors { diagnostics }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let idx = LineIndex::new("ab\nçé = 1\r\nx");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(2), (1, 3));
        assert_eq!(idx.position(3), (2, 1));
        // "çé" is four bytes but two characters.
        assert_eq!(idx.position(7), (2, 3));
        assert_eq!(idx.position(13), (3, 1));
        assert_eq!(idx.position(999), (3, 2));
        // Inside a multi-byte character: no panic.
        assert_eq!(idx.position(4).0, 2);
    }

    #[test]
    fn empty_text() {
        assert_eq!(LineIndex::new("").position(0), (1, 1));
        assert_eq!(LineIndex::new("").position(5), (1, 1));
    }

    #[test]
    fn display_format() {
        let d = Diagnostic {
            file: PathBuf::from("/etc/rampart.toml"),
            line: 3,
            col: 7,
            message: "boom".into(),
        };
        assert_eq!(d.to_string(), "/etc/rampart.toml:3:7: boom");
        let errs = ConfigErrors {
            diagnostics: vec![d.clone(), d],
        };
        assert_eq!(
            errs.to_string(),
            "/etc/rampart.toml:3:7: boom\n/etc/rampart.toml:3:7: boom"
        );
    }
}
