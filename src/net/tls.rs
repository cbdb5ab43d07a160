//! TLS for `realm serve` (rustls, ring provider): the ingress listener's
//! certificate and key, the CAs of peer realms whose client certificates it
//! recognises (mutual TLS), and the client configuration for calls to
//! upstreams (other realms' ingresses, runners).
//!
//! It must never turn certificate verification off, never install a
//! process-wide default crypto provider (the ring provider is passed
//! explicitly everywhere), and never put key material into an error message.
//! A client certificate only ever *adds* an identity: which realm a
//! connection belongs to is decided by [`ServerTls::peer_realms`], never by
//! the handshake alone.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The listener's TLS: certificate chain + key, and optionally, per peer
/// realm, a CA that client certificates of that realm must chain to (mutual
/// TLS).
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    peers: Vec<Peer>,
}

/// A peer realm and the verifier of its CA.
#[derive(Clone)]
struct Peer {
    realm: String,
    verifier: Arc<dyn ClientCertVerifier>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field(
                "peer_realms",
                &self.peers.iter().map(|p| &p.realm).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// PEM bytes and how to name them in a message.
struct Pem<'a> {
    name: String,
    bytes: &'a [u8],
}

impl ServerTls {
    /// `cert`/`key`: PEM files (the chain, end entity first; a PKCS#8,
    /// PKCS#1 or SEC1 key). `peer_cas`: (realm name, PEM file of the CA that
    /// realm's client certificates chain to).
    ///
    /// With peer CAs the server *requests* a client certificate but also
    /// accepts connections without one, so that runners of this realm can
    /// still connect; a certificate that is presented must chain to one of
    /// the peer CAs, or the handshake is refused. Which realm it belongs to
    /// is decided after the handshake by [`ServerTls::peer_realms`]. ALPN
    /// offers h2 and http/1.1.
    pub fn load(cert: &Path, key: &Path, peer_cas: &[(String, PathBuf)]) -> anyhow::Result<Self> {
        let cert_pem = read_pem(cert, || format!("the TLS certificate {}", cert.display()))?;
        let key_pem = read_pem(key, || format!("the TLS key {}", key.display()))?;
        let mut cas = Vec::with_capacity(peer_cas.len());
        for (realm, path) in peer_cas {
            let bytes = read_pem(path, || {
                format!("the CA of realm `{realm}` ({})", path.display())
            })?;
            cas.push((realm.clone(), path.display().to_string(), bytes));
        }
        let peers: Vec<_> = cas
            .iter()
            .map(|(realm, path, bytes)| {
                (
                    realm.as_str(),
                    Pem {
                        name: format!("the CA of realm `{realm}` ({path})"),
                        bytes,
                    },
                )
            })
            .collect();
        Self::build(
            &Pem {
                name: cert.display().to_string(),
                bytes: &cert_pem,
            },
            &Pem {
                name: key.display().to_string(),
                bytes: &key_pem,
            },
            &peers,
        )
    }

    /// Same as [`ServerTls::load`] from PEM bytes already in memory (tests,
    /// benches). Messages name them "the certificate PEM", "the key PEM" and
    /// "the CA of realm `…`".
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        peer_cas: &[(String, Vec<u8>)],
    ) -> anyhow::Result<Self> {
        let peers: Vec<_> = peer_cas
            .iter()
            .map(|(realm, bytes)| {
                (
                    realm.as_str(),
                    Pem {
                        name: format!("the CA of realm `{realm}`"),
                        bytes,
                    },
                )
            })
            .collect();
        Self::build(
            &Pem {
                name: "the certificate PEM".into(),
                bytes: cert_pem,
            },
            &Pem {
                name: "the key PEM".into(),
                bytes: key_pem,
            },
            &peers,
        )
    }

    fn build(cert: &Pem<'_>, key: &Pem<'_>, peer_cas: &[(&str, Pem<'_>)]) -> anyhow::Result<Self> {
        let provider = provider();
        let certified = certified_key(cert, key, &provider)?;

        // One root store per realm (a realm named twice gets both CAs), and
        // one with all of them for the handshake.
        let mut realms: Vec<(String, RootCertStore)> = Vec::new();
        let mut all = RootCertStore::empty();
        for (realm, ca) in peer_cas {
            let certs = certificates(ca)?;
            if certs.is_empty() {
                bail!("{} holds no certificate", ca.name);
            }
            let index = match realms.iter().position(|(name, _)| name == realm) {
                Some(index) => index,
                None => {
                    realms.push((realm.to_string(), RootCertStore::empty()));
                    realms.len() - 1
                }
            };
            for cert in certs {
                all.add(cert.clone())
                    .and_then(|()| realms[index].1.add(cert))
                    .map_err(|e| {
                        anyhow!("{} holds a certificate that cannot be a CA: {e}", ca.name)
                    })?;
            }
        }

        let client_verifier = if realms.is_empty() {
            WebPkiClientVerifier::no_client_auth()
        } else {
            WebPkiClientVerifier::builder_with_provider(Arc::new(all), provider.clone())
                .allow_unauthenticated()
                .build()
                .context("cannot set up the verification of client certificates")?
        };
        let mut peers = Vec::with_capacity(realms.len());
        for (realm, roots) in realms {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .with_context(|| format!("cannot set up the CA of realm `{realm}`"))?;
            peers.push(Peer { realm, verifier });
        }

        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("the TLS provider supports no safe protocol version")?
            .with_client_cert_verifier(client_verifier)
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            peers,
        })
    }

    /// Accepts TLS connections with this configuration.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// The peer realms whose CA verifies this client certificate chain (end
    /// entity first), in the order they were configured. Empty when there is
    /// no chain or no CA verifies it.
    pub fn peer_realms(&self, chain: &[CertificateDer<'_>]) -> Vec<String> {
        let Some((end_entity, intermediates)) = chain.split_first() else {
            return Vec::new();
        };
        let now = UnixTime::now();
        self.peers
            .iter()
            .filter(|peer| {
                peer.verifier
                    .verify_client_cert(end_entity, intermediates, now)
                    .is_ok()
            })
            .map(|peer| peer.realm.clone())
            .collect()
    }

    /// Whether any peer realm's CA is configured (client certificates are
    /// requested).
    pub fn has_peer_cas(&self) -> bool {
        !self.peers.is_empty()
    }
}

/// TLS for calls to upstreams (other realms' ingresses, runners): the
/// system's roots plus optional extra CA PEM files, and an optional client
/// certificate + key, presented for mutual TLS.
///
/// No ALPN protocol is offered: the upstream client speaks HTTP/1.1, which
/// is what a server assumes without ALPN (and hyper-rustls sets ALPN itself).
pub fn client_config(
    extra_cas: &[PathBuf],
    client_cert: Option<(&Path, &Path)>,
) -> anyhow::Result<ClientConfig> {
    let mut cas = Vec::with_capacity(extra_cas.len());
    for path in extra_cas {
        let bytes = read_pem(path, || format!("the CA certificate {}", path.display()))?;
        cas.push((path.display().to_string(), bytes));
    }
    let cas: Vec<_> = cas
        .iter()
        .map(|(name, bytes)| Pem {
            name: name.clone(),
            bytes,
        })
        .collect();
    let client = match client_cert {
        None => None,
        Some((cert, key)) => {
            let cert_pem = read_pem(cert, || {
                format!("the client certificate {}", cert.display())
            })?;
            let key_pem = read_pem(key, || format!("the client key {}", key.display()))?;
            Some((
                cert.display().to_string(),
                cert_pem,
                key.display().to_string(),
                key_pem,
            ))
        }
    };
    let client = client.as_ref().map(|(cert, cert_pem, key, key_pem)| {
        (
            Pem {
                name: cert.clone(),
                bytes: cert_pem,
            },
            Pem {
                name: key.clone(),
                bytes: key_pem,
            },
        )
    });
    build_client_config(&cas, client.as_ref().map(|(c, k)| (c, k)), true)
}

/// Same as [`client_config`] from PEM bytes already in memory; the system's
/// roots only when `native_roots`.
pub fn client_config_from_pem(
    extra_cas: &[Vec<u8>],
    client_cert: Option<(&[u8], &[u8])>,
    native_roots: bool,
) -> anyhow::Result<ClientConfig> {
    let cas: Vec<_> = extra_cas
        .iter()
        .enumerate()
        .map(|(i, bytes)| Pem {
            name: format!("CA PEM #{}", i + 1),
            bytes,
        })
        .collect();
    let client = client_cert.map(|(cert, key)| {
        (
            Pem {
                name: "the client certificate PEM".into(),
                bytes: cert,
            },
            Pem {
                name: "the client key PEM".into(),
                bytes: key,
            },
        )
    });
    build_client_config(&cas, client.as_ref().map(|(c, k)| (c, k)), native_roots)
}

fn build_client_config(
    extra_cas: &[Pem<'_>],
    client_cert: Option<(&Pem<'_>, &Pem<'_>)>,
    native_roots: bool,
) -> anyhow::Result<ClientConfig> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    if native_roots {
        // Unreadable or unparsable system certificates are skipped: the
        // extra CAs may be all that is needed, and a missing root shows up
        // as "UnknownIssuer" at the call that needed it.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
    }
    for ca in extra_cas {
        let certs = certificates(ca)?;
        if certs.is_empty() {
            bail!("{} holds no PEM certificate", ca.name);
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| anyhow!("{} holds a certificate that cannot be a CA: {e}", ca.name))?;
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?
        .with_root_certificates(roots);
    Ok(match client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certified = certified_key(cert, key, &provider)?;
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)))
        }
    })
}

/// The ring provider, passed explicitly (no process-wide default).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in a PEM file, in order.
fn certificates(pem: &Pem<'_>) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(pem.bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{} is not valid PEM: {e}", pem.name))
}

/// A certificate chain and its private key, checked to belong together.
fn certified_key(
    cert: &Pem<'_>,
    key: &Pem<'_>,
    provider: &CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    let chain = certificates(cert)?;
    if chain.is_empty() {
        bail!("{} holds no PEM certificate", cert.name);
    }
    let key_der = match PrivateKeyDer::from_pem_slice(key.bytes) {
        Ok(key_der) => key_der,
        Err(pem::Error::NoItemsFound) => bail!("{} holds no private key", key.name),
        Err(e) => bail!("{} is not valid PEM: {e}", key.name),
    };
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| anyhow!("the key in {} cannot be used: {e}", key.name))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => bail!(
            "the key in {} does not match the certificate in {}",
            key.name,
            cert.name
        ),
        Err(e) => bail!("the certificate in {} cannot be used: {e}", cert.name),
    }
}

/// Certificates for tests: CAs, a server leaf for `localhost` and
/// 127.0.0.1, client leaves; and a TLS server that echoes what it got.
#[cfg(test)]
pub(crate) mod testing {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };

    use super::ServerTls;

    /// A certificate and its key, as PEM.
    pub struct Leaf {
        pub cert: Vec<u8>,
        pub key: Vec<u8>,
    }

    /// A CA that signs leaves.
    pub struct Ca {
        pub pem: Vec<u8>,
        issuer: Issuer<'static, KeyPair>,
    }

    impl Ca {
        pub fn new(name: &str) -> Ca {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let key = KeyPair::generate().expect("CA key");
            let cert = params.self_signed(&key).expect("CA certificate");
            Ca {
                pem: cert.pem().into_bytes(),
                issuer: Issuer::new(params, key),
            }
        }

        /// A server certificate for `localhost` and 127.0.0.1.
        pub fn server(&self) -> Leaf {
            self.leaf(
                &["localhost", "127.0.0.1"],
                ExtendedKeyUsagePurpose::ServerAuth,
            )
        }

        /// A client certificate.
        pub fn client(&self, name: &str) -> Leaf {
            self.leaf(&[name], ExtendedKeyUsagePurpose::ClientAuth)
        }

        fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().expect("leaf key");
            let cert = params.signed_by(&key, &self.issuer).expect("leaf");
            Leaf {
                cert: cert.pem().into_bytes(),
                key: key.serialize_pem().into_bytes(),
            }
        }
    }

    /// The server's CA and leaf, and the CAs of two peer realms with one
    /// client certificate each.
    pub struct Pki {
        pub ca: Ca,
        pub server: Leaf,
        pub shop_ca: Ca,
        pub shop_client: Leaf,
        pub crm_ca: Ca,
        pub crm_client: Leaf,
    }

    impl Pki {
        pub fn new() -> Pki {
            let ca = Ca::new("realm test CA");
            let server = ca.server();
            let shop_ca = Ca::new("shop CA");
            let shop_client = shop_ca.client("shop-runner");
            let crm_ca = Ca::new("crm CA");
            let crm_client = crm_ca.client("crm-runner");
            Pki {
                ca,
                server,
                shop_ca,
                shop_client,
                crm_ca,
                crm_client,
            }
        }
    }

    /// A server on 127.0.0.1 answering every request with JSON naming the
    /// connection's peer realms and echoing the request:
    /// `{"peer_realms":["shop"],"request":<body>}` (in the body, as
    /// [`crate::net::http::HttpClient::post_json`] shows no other header
    /// than the content type). TLS handshakes it refused are listed in
    /// `refused`.
    pub struct TestServer {
        pub addr: SocketAddr,
        pub refused: Arc<Mutex<Vec<String>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl TestServer {
        /// Serves TLS with `tls`, or plaintext without.
        pub async fn start(tls: Option<ServerTls>) -> TestServer {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("address");
            let refused = Arc::new(Mutex::new(Vec::new()));
            let refused_by_task = refused.clone();
            let task = tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let tls = tls.clone();
                    let refused = refused_by_task.clone();
                    tokio::spawn(async move {
                        match tls {
                            None => serve(TokioIo::new(tcp), Vec::new()).await,
                            Some(tls) => match tls.acceptor().accept(tcp).await {
                                Err(e) => refused.lock().expect("lock").push(e.to_string()),
                                Ok(stream) => {
                                    let realms = stream
                                        .get_ref()
                                        .1
                                        .peer_certificates()
                                        .map(|chain| tls.peer_realms(chain))
                                        .unwrap_or_default();
                                    serve(TokioIo::new(stream), realms).await;
                                }
                            },
                        }
                    });
                }
            });
            TestServer {
                addr,
                refused,
                task,
            }
        }

        /// The handshakes refused so far, waiting up to 2 s for one.
        pub async fn wait_refused(&self) -> Vec<String> {
            for _ in 0..200 {
                let refused = self.refused.lock().expect("lock").clone();
                if !refused.is_empty() {
                    return refused;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Vec::new()
        }
    }

    async fn serve<I>(io: I, realms: Vec<String>)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let realms = serde_json::to_string(&realms).expect("JSON");
        let service = service_fn(move |request: http::Request<Incoming>| {
            let realms = realms.clone();
            async move {
                let body = request.into_body().collect().await?.to_bytes();
                let answer = format!(
                    "{{\"peer_realms\":{realms},\"request\":{}}}",
                    String::from_utf8_lossy(&body)
                );
                let response = http::Response::builder()
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(answer)))
                    .expect("response");
                Ok::<_, hyper::Error>(response)
            }
        });
        let _ = auto::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await;
    }
}

/// Reads a PEM file through [`crate::files`] (with its size limit); the
/// error names the file as `what` says, with the system's reason.
fn read_pem(path: &Path, what: impl FnOnce() -> String) -> anyhow::Result<Vec<u8>> {
    crate::files::read_bytes(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {}", what(), e.root_cause()))
}

#[cfg(test)]
mod tests {
    use super::testing::Pki;
    use super::*;

    fn error(result: anyhow::Result<ServerTls>) -> String {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        }
    }

    fn chain(pem: &[u8]) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .expect("PEM")
    }

    #[test]
    fn load_names_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new();
        let key = dir.path().join("key.pem");
        std::fs::write(&key, &pki.server.key).expect("write");
        let cert = dir.path().join("ingress.pem");
        let message = error(ServerTls::load(&cert, &key, &[]));
        assert!(
            message.starts_with(&format!(
                "cannot read the TLS certificate {}: No such file",
                cert.display()
            )),
            "{message}"
        );
    }

    #[test]
    fn load_names_a_file_without_certificate_or_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new();
        let cert = dir.path().join("ingress.pem");
        let key = dir.path().join("key.pem");
        // The key where the certificate should be and vice versa.
        std::fs::write(&cert, &pki.server.key).expect("write");
        std::fs::write(&key, &pki.server.cert).expect("write");
        assert_eq!(
            error(ServerTls::load(&cert, &key, &[])),
            format!("{} holds no PEM certificate", cert.display())
        );
        std::fs::write(&cert, &pki.server.cert).expect("write");
        assert_eq!(
            error(ServerTls::load(&cert, &key, &[])),
            format!("{} holds no private key", key.display())
        );
    }

    #[test]
    fn load_refuses_a_key_that_does_not_match_the_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new();
        let cert = dir.path().join("ingress.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, &pki.server.cert).expect("write");
        std::fs::write(&key, &pki.shop_client.key).expect("write");
        assert_eq!(
            error(ServerTls::load(&cert, &key, &[])),
            format!(
                "the key in {} does not match the certificate in {}",
                key.display(),
                cert.display()
            )
        );
    }

    #[test]
    fn load_names_a_peer_ca_without_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new();
        let cert = dir.path().join("ingress.pem");
        let key = dir.path().join("key.pem");
        let ca = dir.path().join("shop-ca.pem");
        std::fs::write(&cert, &pki.server.cert).expect("write");
        std::fs::write(&key, &pki.server.key).expect("write");
        std::fs::write(&ca, "not a certificate\n").expect("write");
        let peers = [("shop".to_string(), ca.clone())];
        assert_eq!(
            error(ServerTls::load(&cert, &key, &peers)),
            format!(
                "the CA of realm `shop` ({}) holds no certificate",
                ca.display()
            )
        );
        let missing = [("shop".to_string(), dir.path().join("missing.pem"))];
        let message = error(ServerTls::load(&cert, &key, &missing));
        assert!(
            message.starts_with("cannot read the CA of realm `shop` ("),
            "{message}"
        );
    }

    #[test]
    fn load_reads_valid_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new();
        let cert = dir.path().join("ingress.pem");
        let key = dir.path().join("key.pem");
        let ca = dir.path().join("shop-ca.pem");
        std::fs::write(&cert, &pki.server.cert).expect("write");
        std::fs::write(&key, &pki.server.key).expect("write");
        std::fs::write(&ca, &pki.shop_ca.pem).expect("write");
        let tls = ServerTls::load(&cert, &key, &[("shop".to_string(), ca)]).expect("load");
        assert!(tls.has_peer_cas());
        let tls = ServerTls::load(&cert, &key, &[]).expect("load");
        assert!(!tls.has_peer_cas());
    }

    #[test]
    fn peer_realms_are_the_realms_whose_ca_verifies_the_chain() {
        let pki = Pki::new();
        let tls = ServerTls::from_pem(
            &pki.server.cert,
            &pki.server.key,
            &[
                ("shop".to_string(), pki.shop_ca.pem.clone()),
                ("crm".to_string(), pki.crm_ca.pem.clone()),
            ],
        )
        .expect("server TLS");
        assert_eq!(tls.peer_realms(&chain(&pki.shop_client.cert)), ["shop"]);
        assert_eq!(tls.peer_realms(&chain(&pki.crm_client.cert)), ["crm"]);
        assert!(tls.peer_realms(&[]).is_empty());
        // Signed by a CA no realm has.
        assert!(tls.peer_realms(&chain(&pki.server.cert)).is_empty());
    }

    #[test]
    fn client_config_refuses_bad_pem() {
        let pki = Pki::new();
        let message = match client_config_from_pem(&[b"nothing".to_vec()], None, false) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        };
        assert_eq!(message, "CA PEM #1 holds no PEM certificate");
        let message = match client_config_from_pem(
            &[],
            Some((&pki.shop_client.cert, &pki.crm_client.key)),
            false,
        ) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            message,
            "the key in the client key PEM does not match the certificate in the client certificate PEM"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("ca.pem");
        let message = match client_config(std::slice::from_ref(&missing), None) {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            message.starts_with(&format!(
                "cannot read the CA certificate {}: No such file",
                missing.display()
            )),
            "{message}"
        );
    }
}
