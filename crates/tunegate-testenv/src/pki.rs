//! Certificates and keys for a local control plane, generated fresh for every instance.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use super::{Error, write_private};

/// Paths of the PEM files written by [`generate`].
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA that signs the serving and client certificates; also `--client-ca-file`.
    pub ca_cert: PathBuf,
    /// kube-apiserver serving certificate (SANs 127.0.0.1, ::1, localhost, kubernetes.default...).
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    /// Admin client certificate: CN=tunegate-admin, O=system:masters.
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    /// Service-account token signing key pair.
    pub sa_public: PathBuf,
    pub sa_private: PathBuf,
}

/// The user name of the admin client certificate.
pub const ADMIN_USER: &str = "tunegate-admin";

/// Writes a CA, the apiserver serving certificate, an admin client certificate in
/// `system:masters` and a service-account key pair into `dir` (ECDSA P-256 throughout:
/// fast to generate and accepted by kube-apiserver for every one of these uses).
pub fn generate(dir: &Path) -> Result<Pki, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        serving_cert: dir.join("apiserver.crt"),
        serving_key: dir.join("apiserver.key"),
        admin_cert: dir.join("admin.crt"),
        admin_key: dir.join("admin.key"),
        sa_public: dir.join("sa.pub"),
        sa_private: dir.join("sa.key"),
    };

    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tunegate-testenv-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    write_public(&pki.ca_cert, &ca.pem())?;

    // The in-cluster names and the first service IP are included so that the same
    // certificate would serve a client that reaches the apiserver through the service.
    let mut serving = CertificateParams::new(vec![
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
        "localhost".to_owned(),
        "kubernetes".to_owned(),
        "kubernetes.default".to_owned(),
        "kubernetes.default.svc".to_owned(),
        "10.0.0.1".to_owned(),
    ])?;
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_key = KeyPair::generate()?;
    let serving_cert = serving.signed_by(&serving_key, &ca)?;
    write_public(&pki.serving_cert, &serving_cert.pem())?;
    write_private(&pki.serving_key, &serving_key.serialize_pem())?;

    let mut admin = CertificateParams::default();
    admin
        .distinguished_name
        .push(DnType::CommonName, ADMIN_USER);
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_key = KeyPair::generate()?;
    let admin_cert = admin.signed_by(&admin_key, &ca)?;
    write_public(&pki.admin_cert, &admin_cert.pem())?;
    write_private(&pki.admin_key, &admin_key.serialize_pem())?;

    let sa = KeyPair::generate()?;
    write_public(&pki.sa_public, &sa.public_key_pem())?;
    write_private(&pki.sa_private, &sa.serialize_pem())?;
    Ok(pki)
}

fn write_public(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(|e| Error::io(format!("write {}", path.display()), e))
}
