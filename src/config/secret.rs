//! Secrets: a password, API key or DSN that prints as `***` and can be read from a file.

use std::{convert::Infallible, fmt, path::Path, str::FromStr};

use super::ConfigError;

/// A secret setting. `Debug` and `Display` print `***`; only [`Secret::expose`] gives the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself: pass it on, never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Read the secret in `path`, the `…_FILE` variant of a setting (Docker and Kubernetes
    /// secrets): the whole file less a trailing line break. An unreadable or empty file is
    /// an error naming `setting`.
    pub(crate) fn from_file(setting: &'static str, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
            setting,
            path: path.to_path_buf(),
            source,
        })?;
        let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
        if value.is_empty() {
            return Err(ConfigError::Invalid { setting, reason: format!("{} is empty", path.display()) });
        }
        Ok(Secret(value.to_string()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl FromStr for Secret {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), "*** *** Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn files_lose_one_trailing_line_break_and_must_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret \n").unwrap();
        assert_eq!(Secret::from_file("X_FILE", &path).unwrap().expose(), "s3cret ");
        std::fs::write(&path, "a\r\n").unwrap();
        assert_eq!(Secret::from_file("X_FILE", &path).unwrap().expose(), "a");
        std::fs::write(&path, "\n").unwrap();
        assert!(Secret::from_file("X_FILE", &path).unwrap_err().to_string().starts_with("X_FILE"));
        let missing = Secret::from_file("X_FILE", &dir.path().join("nope")).unwrap_err().to_string();
        assert!(missing.starts_with("X_FILE cannot be read"), "{missing}");
    }
}
