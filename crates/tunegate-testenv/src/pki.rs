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
    generate_ca_and_standard(dir, &[]).map(|(pki, _)| pki)
}

/// A certificate and its key.
pub(crate) type CertPair = (PathBuf, PathBuf);

/// A client certificate to issue beside the standard set.
pub(crate) struct ClientCert<'a> {
    /// File stem: `<stem>.crt` and `<stem>.key`.
    pub stem: &'a str,
    pub common_name: &'a str,
    pub organization: Option<&'a str>,
}

/// [`generate`] plus extra client certificates and, when `serving_ip` is set, the apiserver's
/// serving certificate also valid for that address. Returns the paths of each extra
/// (certificate, key), in order.
pub(crate) fn generate_full(
    dir: &Path,
    serving_ips: &[&str],
    clients: &[ClientCert<'_>],
    kubelet_serving: Option<&str>,
) -> Result<(Pki, Vec<CertPair>, Option<CertPair>), Error> {
    let (pki, ca) = generate_ca_and_standard(dir, serving_ips)?;
    let mut out = Vec::new();
    for c in clients {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, c.common_name);
        if let Some(o) = c.organization {
            params.distinguished_name.push(DnType::OrganizationName, o);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        let (cp, kp) = (
            dir.join(format!("{}.crt", c.stem)),
            dir.join(format!("{}.key", c.stem)),
        );
        write_public(&cp, &cert.pem())?;
        write_private(&kp, &key.serialize_pem())?;
        out.push((cp, kp));
    }
    let kubelet = match kubelet_serving {
        Some(ip) => {
            let mut params = CertificateParams::new(vec![ip.to_owned()])?;
            params
                .distinguished_name
                .push(DnType::CommonName, "kubelet-serving");
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &ca)?;
            let (cp, kp) = (dir.join("kubelet.crt"), dir.join("kubelet.key"));
            write_public(&cp, &cert.pem())?;
            write_private(&kp, &key.serialize_pem())?;
            Some((cp, kp))
        }
        None => None,
    };
    Ok((pki, out, kubelet))
}

fn generate_ca_and_standard(
    dir: &Path,
    serving_ips: &[&str],
) -> Result<(Pki, CertifiedIssuer<'static, KeyPair>), Error> {
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
    let mut serving = CertificateParams::new(
        vec![
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            "localhost".to_owned(),
            "kubernetes".to_owned(),
            "kubernetes.default".to_owned(),
            "kubernetes.default.svc".to_owned(),
            "10.0.0.1".to_owned(),
        ]
        .into_iter()
        .chain(serving_ips.iter().map(|ip| (*ip).to_owned()))
        .collect::<Vec<_>>(),
    )?;
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
    Ok((pki, ca))
}

fn write_public(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(|e| Error::io(format!("write {}", path.display()), e))
}
