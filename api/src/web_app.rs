//! Serving the built single-page app (`web/dist`) on the API's own origin, so one URL serves the product.
//!
//! Any GET outside `/api/` that names no file gets `index.html`: the app's router owns those paths, and a
//! bookmark such as `/billing/settings` must load the app rather than a 404.

use std::path::{Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::Method;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse};

/// The folder of a built web app.
#[derive(Clone, Debug)]
pub struct WebApp {
    root: PathBuf,
}

impl WebApp {
    /// The app in `dir`, if it has been built there (it holds an `index.html`).
    pub fn find(dir: &Path) -> Option<Self> {
        let root = dir.canonicalize().ok()?;
        root.join("index.html").is_file().then_some(Self { root })
    }

    /// The app's answer to `req`, or `None` when the request is not the app's to answer (an API path, a
    /// method other than GET or HEAD).
    pub fn respond(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let path = req.path();
        if !(matches!(*req.method(), Method::GET | Method::HEAD) && is_app_path(path)) {
            return None;
        }
        let (file, immutable) = match self.asset(path) {
            // Vite names assets by their content hash, so a browser may keep them for good.
            Some(asset) => (asset, path.starts_with("/assets/")),
            None => (self.root.join("index.html"), false),
        };
        let mut response = NamedFile::open(&file).ok()?.use_etag(true).into_response(req);
        let cache = if immutable {
            CacheControl(vec![
                CacheDirective::Public,
                CacheDirective::MaxAge(31_536_000),
                CacheDirective::Extension("immutable".into(), None),
            ])
        } else {
            // index.html names the current asset hashes: revalidate it on every load.
            CacheControl(vec![CacheDirective::NoCache])
        };
        if let Ok(value) = header::HeaderValue::from_str(&cache.to_string()) {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
        }
        Some(response)
    }

    /// The file `path` names inside the app folder, if it is one. Only plain names are looked up, so no
    /// request can climb out of the folder.
    fn asset(&self, path: &str) -> Option<PathBuf> {
        let relative = path.trim_start_matches('/');
        let plain = !relative.is_empty()
            && relative.split('/').all(|segment| {
                !segment.is_empty()
                    && !segment.starts_with('.')
                    && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            });
        let file = self.root.join(relative);
        (plain && file.is_file()).then_some(file)
    }
}

/// Whether `path` is a page of the web app rather than the API (for the Content-Security-Policy).
pub fn is_app_path(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/api" || matches!(path, "/healthz" | "/readyz" | "/metrics"))
}
