//! Reading input files: RON parsing with located errors.
//!
//! Every file a user can hand to chaosim (scenarios, playbooks, stack,
//! programme) goes through [`parse_ron`] or [`read_ron_file`], so a syntax
//! error always names the file and the line:column, and binary garbage or an
//! unreadable file is one clear error instead of a panic.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Largest input file accepted, a guard against pointing chaosim at a huge file.
pub const INPUT_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Parse `text` (the content of `path`, or of an embedded default named by
/// `path`) as RON into `T`. Unknown fields, missing fields, wrong types and
/// syntax errors all become [`Error::Syntax`] with the position ron reports.
pub fn parse_ron<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    if text.trim().is_empty() {
        return Err(Error::Syntax {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "empty file: expected a RON value".into(),
        });
    }
    ron::Options::default()
        .from_str(text)
        .map_err(|e| Error::Syntax {
            path: path.to_path_buf(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: e.code.to_string(),
        })
}

/// Read a text file, refusing binary content and oversized files with a
/// located error.
pub fn read_text(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| not_found_is_input(path, e))?;
    if !meta.is_file() {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            field: "(file)".into(),
            message: "not a regular file".into(),
        });
    }
    if meta.len() > INPUT_BYTES_MAX {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            field: "(file)".into(),
            message: format!(
                "file is {} bytes; at most {INPUT_BYTES_MAX} allowed",
                meta.len()
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.contains(&0) {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            field: "(file)".into(),
            message: "binary content (NUL bytes): expected RON text".into(),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        Error::Invalid {
            path: path.to_path_buf(),
            field: "(file)".into(),
            message: format!("not UTF-8 text (invalid byte at offset {valid})"),
        }
    })
}

/// A missing input file or folder is the user's input error (exit 2); other
/// I/O failures stay I/O errors.
pub fn not_found_is_input(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Invalid {
            path: path.to_path_buf(),
            field: "(path)".into(),
            message: "no such file or directory".into(),
        }
    } else {
        Error::io(path, e)
    }
}

/// Read and parse a RON file.
pub fn read_ron_file<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_text(path)?;
    parse_ron(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse_ron::<T>("(\n  a: 1,\n  b: 2,\n)", Path::new("x.ron")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.ron:3:"), "{msg}");
        assert!(msg.contains('b'), "{msg}");
        let err = parse_ron::<T>("", Path::new("e.ron")).unwrap_err();
        assert!(err.to_string().contains("empty file"), "{err}");
        let err = parse_ron::<T>("(a: 1", Path::new("t.ron")).unwrap_err();
        assert!(matches!(err, Error::Syntax { line: 1, .. }), "{err}");
    }
}
