//! A CA and a certificate for 127.0.0.1, made fresh for a benchmark, and
//! the settings that make a project's ingress serve it or trust it.

use std::path::{Path, PathBuf};

use super::tools::append;

pub struct Tls {
    /// The CA's certificate (PEM).
    pub ca: String,
    /// The leaf's certificate and key, written beside the benchmark's files.
    pub cert: PathBuf,
    pub key: PathBuf,
    cert_pem: String,
    key_pem: String,
}

impl Tls {
    /// Makes the CA and the leaf, and writes the leaf's PEM files into `dir`.
    pub fn new(dir: &Path) -> Tls {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf");
        let cert = dir.join("tls-cert.pem");
        let key = dir.join("tls-key.pem");
        std::fs::write(&cert, leaf.pem()).expect("write");
        std::fs::write(&key, leaf_key.serialize_pem()).expect("write");
        Tls {
            ca: ca_cert.pem(),
            cert,
            key,
            cert_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
        }
    }

    /// The project's ingress serves the leaf certificate (`realm.toml`).
    pub fn install_server(&self, project: &Path) {
        std::fs::write(project.join("cert.pem"), &self.cert_pem).expect("write");
        std::fs::write(project.join("key.pem"), &self.key_pem).expect("write");
        append(
            &project.join("realm.toml"),
            "\n[ingress.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
        );
    }

    /// The project's ingress trusts the CA for its upstreams (`realm.toml`).
    pub fn install_ca(&self, project: &Path) {
        std::fs::write(project.join("ca.pem"), &self.ca).expect("write");
        append(
            &project.join("realm.toml"),
            "\n[ingress.tls]\nca = \"ca.pem\"\n",
        );
    }
}
