//! TLS for every connection: rustls (ring provider, no system OpenSSL) through
//! tokio-postgres-rustls, set up per libpq `sslmode`:
//!
//! | mode | encrypted | server certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` | when the server offers TLS | not checked |
//! | `require` | always | not checked; with an `sslrootcert` file, checked as `verify-ca` |
//! | `verify-ca` | always | chains to a trusted root (any host name) |
//! | `verify-full` | always | chains to a trusted root and names the host |
//!
//! Trusted roots: the `sslrootcert` PEM file, else (or with `sslrootcert=system`) the operating
//! system's store, else Mozilla's roots (webpki-roots). All certificate checks are rustls'
//! WebPKI verifier; verify-ca only forgives its name check, the unchecked modes still verify
//! the handshake signature (so SCRAM channel binding means something), with the certificate's
//! public key, so that they accept any certificate version as libpq does (TLS 1.3).

use std::{path::PathBuf, sync::Arc};

use rustls::{
    client::{
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        WebPkiServerVerifier,
    },
    crypto::CryptoProvider,
    pki_types::{pem::PemObject, CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime},
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{RootCert, SslMode, TlsSettings};

/// What tokio-postgres connects with.
pub(crate) type Connector = MakeRustlsConnect;

/// Why the TLS configuration of a connection could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the root certificate file {path}")]
    ReadRoots {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("the root certificate file {path} holds no PEM certificate")]
    NoRoots { path: PathBuf },
    #[error("a certificate in {path} is not usable as a root")]
    BadRoot {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("the TLS client configuration is invalid")]
    Config(#[source] rustls::Error),
    #[error("the certificate verifier cannot be built")]
    Verifier(#[source] rustls::client::VerifierBuilderError),
}

/// The connector for `tls` (for `disable` too: tokio-postgres then never uses it).
pub(crate) fn connector(tls: &TlsSettings) -> Result<Connector, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let config = match tls.effective_mode() {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Unchecked(provider))).with_no_client_auth()
        }
        SslMode::VerifyCa => {
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(tls)?), provider)
                .build()
                .map_err(TlsError::Verifier)?;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyName(webpki))).with_no_client_auth()
        }
        SslMode::VerifyFull => builder.with_root_certificates(roots(tls)?).with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

/// The trusted roots of a verifying connection.
fn roots(tls: &TlsSettings) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    match &tls.root_cert {
        Some(RootCert::File(path)) => {
            let read = |source| TlsError::ReadRoots { path: path.clone(), source };
            for cert in CertificateDer::pem_file_iter(path).map_err(read)? {
                store.add(cert.map_err(read)?).map_err(|source| TlsError::BadRoot { path: path.clone(), source })?;
            }
            if store.is_empty() {
                return Err(TlsError::NoRoots { path: path.clone() });
            }
        }
        Some(RootCert::System) | None => {
            let native = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(native.certs);
            if store.is_empty() {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
        }
    }
    Ok(store)
}

/// `verify-ca`: WebPKI's checks (chain, validity, key usage), except that the certificate need
/// not name the host. WebPKI checks the name last, after the chain, so only that is forgiven.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` (libpq: "encrypt, do not check the certificate"): any certificate is
/// accepted, the handshake signature is still verified with the provider's algorithms.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    /// With the certificate's public key alone, so that any certificate libpq accepts in these
    /// modes works here too: WebPKI parses only X.509 v3, and some servers present v1 (the one
    /// `create extension citus` generates, `openssl x509 -req` without extensions).
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let key = subject_public_key_info(cert)?;
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &key,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The subject public key of a certificate of any X.509 version.
fn subject_public_key_info(cert: &CertificateDer<'_>) -> Result<SubjectPublicKeyInfoDer<'static>, rustls::Error> {
    use x509_cert::der::{Decode, Encode};
    let bad = |_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    let parsed = x509_cert::Certificate::from_der(cert.as_ref()).map_err(bad)?;
    let key = parsed.tbs_certificate.subject_public_key_info.to_der().map_err(bad)?;
    Ok(SubjectPublicKeyInfoDer::from(key))
}

/// Whether a failed connection attempt failed in TLS itself: a certificate that does not verify,
/// or a handshake rustls refused. Such a failure is permanent (a setting to fix, not an outage).
pub(crate) fn is_tls_failure(e: &tokio_postgres::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if inner.is::<rustls::Error>() {
                return true;
            }
        }
        cur = err.source();
    }
    false
}
