//! gRPC channels: `http://` is plaintext HTTP/2, `https://` is TLS (rustls)
//! verified against the system's roots plus an optional CA (`--cacert`), or
//! not verified at all (`--insecure`).

use std::sync::Arc;
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use super::NetError;

/// How to reach a gRPC endpoint.
#[derive(Clone, Debug)]
pub struct ChannelOptions {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// PEM of a CA certificate to trust in addition to the system's.
    pub cacert: Option<Vec<u8>>,
    /// Do not verify the server's certificate.
    pub insecure: bool,
    /// For connecting and for each request.
    pub timeout: Duration,
}

/// Connects, failing now (not at the first request) when the endpoint
/// cannot be reached.
pub async fn connect(options: &ChannelOptions) -> Result<Channel, NetError> {
    let endpoint_text = options.endpoint.clone();
    let invalid = |reason: String| NetError::InvalidEndpoint {
        endpoint: endpoint_text.clone(),
        reason,
    };
    let uri: http::Uri = options
        .endpoint
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(other) => return Err(invalid(format!("unsupported scheme `{other}`"))),
        None => return Err(invalid("no scheme".into())),
    };
    if !tls && (options.cacert.is_some() || options.insecure) {
        return Err(invalid(
            "--cacert and --insecure need an https:// endpoint".into(),
        ));
    }
    let mut endpoint = Endpoint::from_shared(options.endpoint.clone())
        .map_err(|e| invalid(e.to_string()))?
        .connect_timeout(options.timeout);
    if tls {
        let config = ClientTlsConfig::new().assume_http2(true);
        endpoint = if options.insecure {
            endpoint.tls_config_with_verifier(config, Arc::new(NoVerification::new()))
        } else {
            let mut config = config.with_native_roots();
            if let Some(pem) = &options.cacert {
                config = config.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint.tls_config(config)
        }
        .map_err(|e| NetError::Tls {
            endpoint: options.endpoint.clone(),
            reason: chain(&e),
        })?;
    }
    match tokio::time::timeout(options.timeout, endpoint.connect()).await {
        Err(_) => Err(NetError::Timeout {
            endpoint: options.endpoint.clone(),
            timeout: options.timeout,
        }),
        Ok(Err(e)) => Err(classify(&options.endpoint, &e)),
        Ok(Ok(channel)) => Ok(channel),
    }
}

/// Sorts a transport error into what the user needs to hear.
pub fn classify(endpoint: &str, error: &(dyn std::error::Error + 'static)) -> NetError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return NetError::Tls {
                    endpoint: endpoint.to_string(),
                    reason: tls.to_string(),
                };
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return NetError::Connect {
                        endpoint: endpoint.to_string(),
                        reason: "connection refused".into(),
                    };
                }
                std::io::ErrorKind::TimedOut => {
                    return NetError::Connect {
                        endpoint: endpoint.to_string(),
                        reason: "connection timed out".into(),
                    };
                }
                std::io::ErrorKind::InvalidData if io.to_string().contains("tls") => {
                    return NetError::Tls {
                        endpoint: endpoint.to_string(),
                        reason: io.to_string(),
                    };
                }
                _ => {}
            }
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return NetError::Tls {
                endpoint: endpoint.to_string(),
                reason: tls.to_string(),
            };
        }
        if e.downcast_ref::<h2::Error>().is_some() {
            return NetError::NotGrpc {
                endpoint: endpoint.to_string(),
                reason: format!("HTTP/2 failed ({e})"),
            };
        }
        cause = e.source();
    }
    let reason = chain(error);
    if reason.contains("tls") || reason.contains("certificate") {
        return NetError::Tls {
            endpoint: endpoint.to_string(),
            reason,
        };
    }
    NetError::Connect {
        endpoint: endpoint.to_string(),
        reason,
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Accepts any server certificate (`--insecure`), still checking that the
/// handshake signatures are valid for the certificate presented.
#[derive(Debug)]
struct NoVerification {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl NoVerification {
    fn new() -> Self {
        NoVerification {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }
}

impl ServerCertVerifier for NoVerification {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
