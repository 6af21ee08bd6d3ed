//! A token read from a file at each refresh.

use std::future::poll_fn;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};

use super::{BoxError, Token, TokenSource};

/// The largest token file read: 64 KiB. A bearer token is a few hundred bytes; a larger
/// file is the wrong file.
const MAX_FILE: usize = 64 * 1024;

/// Reads the token from a file, afresh at every refresh: a mounted Kubernetes secret,
/// a file a sidecar rewrites with a newly signed JWT.
///
/// The file is read (with [`tokio::fs`]) only when the middleware refreshes: the first
/// request, a 401, or the configured [`lifetime`](Self::lifetime) drawing to an end.
/// Surrounding whitespace (a trailing newline) is trimmed. At most 64 KiB are read. A
/// file that is missing, unreadable, larger than that, not UTF-8 or blank is a failed
/// refresh whose error names the path (never the contents).
///
/// ```
/// use std::time::Duration;
/// use resile_reqwest::{AuthMiddleware, FileToken};
///
/// // The sidecar re-signs every 10 minutes; re-read ahead of that.
/// let source = FileToken::new("/var/run/secrets/api/token").lifetime(Duration::from_secs(600));
/// let _auth = AuthMiddleware::builder(source).hosts(["api.example.com"]).build()?;
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileToken {
    path: PathBuf,
    lifetime: Option<Duration>,
}

impl FileToken {
    /// Reads the file at `path`; the token has no known expiry.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lifetime: None,
        }
    }

    /// Treat each token read as expiring `lifetime` later, so it is re-read ahead of
    /// that (default: no expiry, re-read only after a 401).
    #[must_use]
    pub const fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read(&self) -> Result<Token, FileError> {
        let path = || self.path.display().to_string();
        let io = |source| FileError::Io {
            path: path(),
            source,
        };
        let mut file = tokio::fs::File::open(&self.path).await.map_err(io)?;
        let bytes = read_bounded(&mut file, MAX_FILE).await.map_err(io)?;
        let Some(bytes) = bytes else {
            return Err(FileError::TooLarge(path()));
        };
        let text = String::from_utf8(bytes).map_err(|_| FileError::NotUnicode(path()))?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(FileError::Empty(path()));
        }
        let token = Token::new(trimmed);
        Ok(match self.lifetime {
            Some(life) => token.expires_in(life),
            None => token,
        })
    }
}

#[async_trait::async_trait]
impl TokenSource for FileToken {
    async fn token(&self) -> Result<Token, BoxError> {
        Ok(self.read().await?)
    }
}

/// Reads to the end; `None` if there are more than `limit` bytes.
async fn read_bounded<R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0; limit + 1];
    let mut filled = 0;
    loop {
        let n = poll_fn(|cx| {
            let mut window = ReadBuf::new(&mut buf[filled..]);
            match Pin::new(&mut *reader).poll_read(cx, &mut window) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(window.filled().len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        if n == 0 {
            buf.truncate(filled);
            return Ok(Some(buf));
        }
        filled += n;
        if filled > limit {
            return Ok(None);
        }
    }
}

/// Why [`FileToken`] had no token; names the path, never the contents.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("cannot read token file `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("token file `{0}` is larger than {MAX_FILE} bytes")]
    TooLarge(String),
    #[error("token file `{0}` is not valid UTF-8")]
    NotUnicode(String),
    #[error("token file `{0}` is empty")]
    Empty(String),
}
