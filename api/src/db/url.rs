//! Parsing `DATABASE_URL`: the scheme chooses the backend.

use std::fmt;
use std::path::PathBuf;

/// The two supported databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A validated database URL. `Debug` hides any password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path (relative paths are relative to the working directory).
    Sqlite(PathBuf),
    /// A libpq connection URL.
    Postgres(String),
}

/// Seconds libpq waits for a connection before giving up, unless the URL says otherwise. Short, so that an
/// unreachable database turns into a quick 503 instead of a hanging request.
const PG_CONNECT_TIMEOUT_SECS: u32 = 2;

impl DatabaseUrl {
    /// Parses `sqlite://path`, `sqlite:path`, `postgres://…` or `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() || path.contains(":memory:") {
                return Err("needs a file path, e.g. sqlite://data/vigil.db (in-memory databases are not shared between pooled connections)".to_owned());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let with_timeout = if url.contains("connect_timeout=") {
                url.to_owned()
            } else {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}connect_timeout={PG_CONNECT_TIMEOUT_SECS}")
            };
            return Ok(Self::Postgres(with_timeout));
        }
        Err(format!("must start with sqlite:// or postgres://, not {:?}", url.split("://").next().unwrap_or(url)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.backend() == Backend::Sqlite
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.split_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_chooses_the_backend() {
        assert_eq!(DatabaseUrl::parse("sqlite://data/vigil.db"), Ok(DatabaseUrl::Sqlite("data/vigil.db".into())));
        assert_eq!(DatabaseUrl::parse("sqlite:///tmp/v.db"), Ok(DatabaseUrl::Sqlite("/tmp/v.db".into())));
        assert!(
            matches!(DatabaseUrl::parse("postgres://localhost/v"), Ok(DatabaseUrl::Postgres(u)) if u.ends_with("connect_timeout=2"))
        );
        assert!(DatabaseUrl::parse("mysql://localhost/v").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
    }

    #[test]
    fn passwords_are_hidden() {
        let url = DatabaseUrl::parse("postgres://vigil:hunter2@db:5432/vigil")
            .unwrap_or(DatabaseUrl::Postgres(String::new()));
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
