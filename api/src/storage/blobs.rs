//! Blobs (screenshots) in an object store: the local filesystem under the data folder by default, any
//! S3-compatible store when `OBJECT_STORE_URL` says `s3://bucket/prefix` (credentials and endpoint from the
//! usual `AWS_*` variables). The database keeps only metadata and the object key.

use std::sync::Arc;

use anyhow::Context;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The one interface to blob storage.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    description: String,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

impl BlobStore {
    /// The store `url` names (`file:///…` or `s3://…`); a local folder is created when missing.
    pub fn open(url: &url::Url) -> anyhow::Result<Self> {
        if url.scheme() == "file" {
            let folder =
                url.to_file_path().map_err(|()| anyhow::anyhow!("OBJECT_STORE_URL {url} is not a local folder"))?;
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("Failed to create the blob folder {} (OBJECT_STORE_URL)", folder.display()))?;
        }
        let options = std::env::vars().filter(|(key, _)| key.starts_with("AWS_"));
        let (store, prefix) = object_store::parse_url_opts(url, options)
            .with_context(|| format!("OBJECT_STORE_URL {url} does not name an object store this build supports"))?;
        Ok(Self { store: Arc::from(store), prefix, description: format!("BlobStore({url})") })
    }

    fn path(&self, key: &str) -> Path {
        self.prefix.parts().chain(Path::from(key).parts()).collect()
    }

    pub async fn put(&self, key: &str, bytes: bytes::Bytes) -> anyhow::Result<()> {
        self.store
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await
            .with_context(|| format!("Failed to store blob {key}"))?;
        Ok(())
    }

    /// The blob's bytes, or `None` when it is gone (deleted by retention in the meantime, say).
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<bytes::Bytes>> {
        let result = match self.store.get(&self.path(key)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(anyhow::Error::new(error).context(format!("Failed to read blob {key}"))),
        };
        Ok(Some(result.bytes().await.with_context(|| format!("Failed to read blob {key}"))?))
    }

    /// Deletes a blob; one that is already gone counts as deleted, so a retried deletion succeeds.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(anyhow::Error::new(error).context(format!("Failed to delete blob {key}"))),
        }
    }

    /// Whether a blob exists (for tests and the retention sweep's report).
    pub async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        match self.store.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(anyhow::Error::new(error).context(format!("Failed to look up blob {key}"))),
        }
    }
}
