//! The connection the alert listener opens itself with tokio-postgres (diesel's pool goes through libpq),
//! secured as `sslmode` in `DATABASE_URL` asks, with libpq's meanings: `disable` is plain; `allow` and
//! `prefer` try TLS and fall back to plain; `require` insists on TLS without checking the certificate;
//! `verify-ca` also checks it against the roots; `verify-full` also checks the host name. The roots are the
//! `sslrootcert` file when the URL names one, else the Mozilla roots. libpq's other TLS parameters are left
//! out for tokio-postgres, which would refuse them.

use std::sync::Arc;

use anyhow::Context;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// `sslmode` as libpq reads it (its default is `prefer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// Whether a connection in this mode must be encrypted.
    pub fn requires_tls(self) -> bool {
        matches!(self, Self::Require | Self::VerifyCa | Self::VerifyFull)
    }

    fn for_tokio_postgres(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow | Self::Prefer => "prefer",
            Self::Require | Self::VerifyCa | Self::VerifyFull => "require",
        }
    }
}

/// libpq parameters about TLS that tokio-postgres does not know (it refuses unknown ones).
const LIBPQ_TLS_PARAMETERS: [&str; 8] =
    ["sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "sslcompression", "sslsni"];

/// What the listener connects with: tokio-postgres's configuration and the TLS connector for it.
pub struct ListenerConnection {
    pub mode: SslMode,
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
}

/// The listener's connection settings for a `postgres://` URL.
pub fn listener_connection(url: &str) -> anyhow::Result<ListenerConnection> {
    let mut parsed = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
    let parameter = |name: &str| parsed.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
    let mode = match parameter("sslmode").as_deref() {
        None | Some("prefer") => SslMode::Prefer,
        Some("disable") => SslMode::Disable,
        Some("allow") => SslMode::Allow,
        Some("require") => SslMode::Require,
        Some("verify-ca") => SslMode::VerifyCa,
        Some("verify-full") => SslMode::VerifyFull,
        Some(other) => anyhow::bail!(
            "DATABASE_URL has sslmode={other}; libpq knows disable, allow, prefer, require, verify-ca and verify-full"
        ),
    };
    let root_file = parameter("sslrootcert");
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(key, _)| !LIBPQ_TLS_PARAMETERS.contains(&key.as_ref()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept).append_pair("sslmode", mode.for_tokio_postgres());
    let config = parsed.as_str().parse().context("DATABASE_URL cannot be read by the alert listener")?;
    Ok(ListenerConnection { mode, config, tls: MakeRustlsConnect::new(client_config(mode, root_file.as_deref())?) })
}

fn client_config(mode: SslMode, root_file: Option<&str>) -> anyhow::Result<rustls::ClientConfig> {
    // One provider named here, whatever else the dependency tree enables.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match root_file {
        Some(path) => {
            for certificate in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("Failed to read sslrootcert {path} (DATABASE_URL)"))?
            {
                let certificate = certificate.with_context(|| format!("sslrootcert {path} is not PEM"))?;
                roots.add(certificate).with_context(|| format!("sslrootcert {path} holds an unusable certificate"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .context("Failed to build the certificate verifier")?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::VerifyFull => webpki,
        SslMode::VerifyCa => Arc::new(Lenient { webpki, check_chain: true }),
        _ => Arc::new(Lenient { webpki, check_chain: false }),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("Failed to set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// libpq's `require` (encrypt, trust any certificate) and `verify-ca` (check the chain, not the name).
/// Handshake signatures are always checked, so the session is with the holder of the presented key.
#[derive(Debug)]
struct Lenient {
    webpki: Arc<WebPkiServerVerifier>,
    check_chain: bool,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The listener's connection, to be polled for its notifications.
pub type ListenerSocket = tokio_postgres::Connection<
    tokio_postgres::Socket,
    <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>>::Stream,
>;

/// Opens the listener's connection; with `require` or stricter it is TLS or an error, never plain.
pub async fn connect(url: &str) -> anyhow::Result<(tokio_postgres::Client, ListenerSocket)> {
    let ListenerConnection { mode, config, tls } = listener_connection(url)?;
    config.connect(tls).await.with_context(|| {
        if mode.requires_tls() {
            format!("Failed to connect the alert listener over TLS (sslmode={mode:?} in DATABASE_URL)")
        } else {
            "Failed to connect the alert listener".to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{SslMode, listener_connection};

    fn mode(url: &str) -> Option<SslMode> {
        listener_connection(url).ok().map(|connection| connection.mode)
    }

    #[test]
    fn the_urls_sslmode_chooses_tls_as_libpq_would() {
        let base = "postgres://vigil@db.example:5432/vigil";
        assert_eq!(mode(base), Some(SslMode::Prefer), "libpq's default");
        assert_eq!(mode(&format!("{base}?sslmode=disable")), Some(SslMode::Disable));
        assert_eq!(mode(&format!("{base}?sslmode=require&connect_timeout=2")), Some(SslMode::Require));
        assert_eq!(mode(&format!("{base}?sslmode=verify-full")), Some(SslMode::VerifyFull));
        assert!(mode(&format!("{base}?sslmode=verify-ca")).is_some_and(SslMode::requires_tls));
        assert!(!SslMode::Prefer.requires_tls() && !SslMode::Disable.requires_tls());
        assert_eq!(mode(&format!("{base}?sslmode=sometimes")), None);
    }

    #[test]
    fn tokio_postgres_is_told_to_insist_on_tls_and_spared_libpqs_other_parameters() {
        let connection = listener_connection(
            "postgres://vigil@db.example/vigil?sslmode=verify-full&sslcompression=0&connect_timeout=2",
        );
        let config = connection.map(|connection| connection.config).ok();
        assert_eq!(
            config.as_ref().map(tokio_postgres::Config::get_ssl_mode),
            Some(tokio_postgres::config::SslMode::Require)
        );
        assert_eq!(config.and_then(|c| c.get_connect_timeout().copied()), Some(std::time::Duration::from_secs(2)));
        let plain =
            listener_connection("postgres://vigil@db.example/vigil?sslmode=disable").map(|c| c.config.get_ssl_mode());
        assert_eq!(plain.ok(), Some(tokio_postgres::config::SslMode::Disable));
    }
}
