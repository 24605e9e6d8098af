//! A throwaway CA and a server certificate it signed, made with `openssl`: what a test
//! server shows (a TLS webhook receiver, nginx as an Ingress) and what its client is told
//! to trust.

use std::path::{Path, PathBuf};

/// A CA and one server certificate of it (P-256 keys, valid for two days), removed on drop.
pub struct TestCa {
    _dir: tempfile::TempDir,
    /// The CA's certificate (PEM): what the client trusts.
    pub ca_cert: PathBuf,
    /// The server's certificate (PEM), signed by the CA.
    pub server_cert: PathBuf,
    /// The server's private key (PEM, PKCS#8).
    pub server_key: PathBuf,
}

impl TestCa {
    /// A CA and a certificate for `san`, a subjectAltName such as `IP:127.0.0.1` or
    /// `DNS:podwall.example.com` (rustls wants a server certificate that is not the CA's).
    pub fn new(san: &str) -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let (_, name) = san.split_once(':').unwrap_or(("", san));
        let ca = ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"];
        let ca_subject = ["-subj", "/CN=podwall test CA"];
        openssl(d, &[&["req", "-x509"], &ec[..], &ca, &ca_subject].concat());
        let subject = format!("/CN={name}");
        let server = [
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            &subject,
        ];
        openssl(d, &[&["req"], &ec[..], &server].concat());
        std::fs::write(
            d.join("server.ext"),
            format!(
                "subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .expect("write the extensions");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        TestCa {
            ca_cert: d.join("ca.pem"),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
            _dir: dir,
        }
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
