//! The library's error type: located, typed, one line when displayed.
//!
//! Errors about input (files, flags) carry where the problem is (file,
//! line:column, field) and what is allowed; the CLI maps them to exit code 2.
//! Errors while running map to exit code 1.

use std::path::PathBuf;

use crate::engine::EngineError;

/// Everything that can go wrong in chaosim, with its context.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A syntax error in an input file, with its position.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A well-formed input file whose content is not allowed.
    #[error("{}: {field}: {message}", path.display())]
    Invalid {
        /// The file (or `<embedded>/name` for built-in defaults).
        path: PathBuf,
        /// The offending field, as a dotted path (`faults[2].intensity`).
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A well-formed input file whose content is not allowed, with the
    /// position of the offending value (see [`crate::input::locate`]).
    #[error("{}:{line}:{column}: {field}: {message}", path.display())]
    InvalidAt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The offending field, as a dotted path (`faults[2].intensity`).
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A bad command-line value.
    #[error("{flag}: {message}")]
    Usage {
        /// The flag or argument.
        flag: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A bad output or shard folder, or a file in one: a folder that is not
    /// a complete shard, a shard foreign to the others or given twice, an
    /// output that is not a regular file or whose folder is missing.
    #[error("{}: {message}", path.display())]
    Folder {
        /// The folder or file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The engine refused to go on (runaway model, overflow).
    #[error("simulation error: {0}")]
    Engine(#[from] EngineError),
    /// A check that the run itself performs failed (a replay digest mismatch,
    /// a broken audit chain...).
    #[error("{0}")]
    Check(String),
}

impl Error {
    /// Whether the error is about the user's input (exit code 2) rather than
    /// a failure while running (exit code 1).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Error::Syntax { .. }
                | Error::Invalid { .. }
                | Error::InvalidAt { .. }
                | Error::Usage { .. }
                | Error::Folder { .. }
        )
    }

    /// An [`Error::Usage`]: `flag` (a flag, an argument or an environment
    /// variable) has a bad value; `message` says what is allowed.
    pub fn usage(flag: &str, message: impl Into<String>) -> Error {
        Error::Usage {
            flag: flag.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Folder`] about `path`.
    pub fn folder(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Folder {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an [`Error::Io`]. An I/O error raised by a writer that
    /// knows its file ([`crate::record::outfile::PathTagged`]) names that
    /// file, whatever `path` the caller had at hand (a bare label such as
    /// `"timeline"`, or the output folder).
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        match crate::record::outfile::untag(source) {
            Ok((tagged, source)) => Error::Io {
                path: tagged,
                source,
            },
            Err(source) => Error::Io {
                path: path.into(),
                source,
            },
        }
    }
}

/// A value that parses but is not allowed, before anyone knows which file
/// it came from: the field's path (`watchdog.restarts_max`,
/// `kernels[2].name`) and what is wrong with the value and what is allowed
/// (`5000 (allowed 0..=1000)`). The `validate()` of a spec returns it; the
/// caller that read the file makes it an [`Error::Invalid`] with
/// [`FieldError::in_file`], after [`FieldError::within`] for a spec nested in
/// a larger one. Displayed as `field: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The offending field, as a dotted path (`faults[2].intensity`).
    pub field: String,
    /// The value, what is wrong with it and what is allowed.
    pub message: String,
}

impl FieldError {
    /// `field` has a bad value; `message` says what is allowed.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error about the field as a part of `section`
    /// (`htm.queue_warning` within `layer2` is `layer2.htm.queue_warning`).
    pub fn within(self, section: &str) -> FieldError {
        FieldError {
            field: format!("{section}.{}", self.field),
            ..self
        }
    }

    /// The [`Error::Invalid`] about this field of the file `path` (the
    /// caller locates it in the text, see [`crate::input::locate_error`]).
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        Error::Invalid {
            path: path.into(),
            field: self.field,
            message: self.message,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
