//! Colour on a terminal, plain text everywhere else (and whenever `NO_COLOR` is set).

use std::io::IsTerminal;

/// Whether to paint, decided once per stream.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    colour: bool,
}

impl Style {
    /// Colours for standard output.
    pub fn stdout() -> Self {
        Self::for_terminal(std::io::stdout().is_terminal())
    }

    /// Colours for standard error.
    pub fn stderr() -> Self {
        Self::for_terminal(std::io::stderr().is_terminal())
    }

    fn for_terminal(is_terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            colour: is_terminal && !no_color,
        }
    }

    /// No colour at all.
    #[cfg(test)]
    pub fn plain() -> Self {
        Self { colour: false }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Good news.
    pub fn ok(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Something to look at.
    pub fn warn(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Something wrong.
    pub fn error(self, text: &str) -> String {
        self.paint("31;1", text)
    }

    /// A heading.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Secondary text.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}
