//! moto (the AWS emulator, from PyPI) in server mode on a loopback port, for the Bedrock tests.
//!
//! [`Moto::start`] installs a pinned moto into a virtualenv under the target directory the first
//! time (`python3 -m venv`, then pip from the Python package registry), starts
//! `moto/launch.py` on 127.0.0.1 with an ephemeral port, and kills it on drop. See launch.py for
//! the one thing it adds to moto (`--complete-after`) and why.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::e2e::Proc;

/// The moto release the tests are written against.
pub const MOTO_VERSION: &str = "5.2.5";

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _proc: Proc,
}

/// One installation at a time (tests in one binary run in parallel).
static INSTALL: Mutex<()> = Mutex::new(());

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"))
}

/// The virtualenv's python, installing moto into it if needed.
pub fn python() -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let venv = target_dir().join("moto-venv");
    let py = venv.join("bin/python");
    let installed = py.is_file()
        && Command::new(&py)
            .args([
                "-c",
                &format!("import moto, sys; sys.exit(moto.__version__ != '{MOTO_VERSION}')"),
            ])
            .status()
            .is_ok_and(|s| s.success());
    if !installed {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "python3 -m venv {} failed", venv.display());
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", &format!("moto[server]=={MOTO_VERSION}")])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pip install moto[server]=={MOTO_VERSION} failed");
    }
    py
}

impl Moto {
    /// Plain moto.
    pub fn start() -> Moto {
        Self::start_with(&[])
    }

    /// moto with launcher options, e.g. `["--complete-after", "2"]`.
    pub fn start_with(args: &[&str]) -> Moto {
        let py = python();
        let script = crate::repo_root().join("crates/tunegate-testkit/moto/launch.py");
        let mut child = Command::new(py)
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto");
        let stdout = child.stdout.take().expect("moto stdout");
        let proc = Proc { child };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("moto address");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected moto output: {line:?}"))
            .to_owned();
        assert!(
            addr.starts_with("127.0.0.1:"),
            "moto must listen on loopback: {addr}"
        );
        Moto {
            url: format!("http://{addr}"),
            _proc: proc,
        }
    }

    /// Creates an S3 bucket (moto takes unsigned requests). A region other than us-east-1 is
    /// sent as the location constraint, as S3 wants it.
    pub fn create_bucket(&self, bucket: &str, region: &str) {
        let mut args = vec![
            "-fsS".to_owned(),
            "-o".to_owned(),
            "/dev/null".to_owned(),
            "-X".to_owned(),
            "PUT".to_owned(),
        ];
        if region != "us-east-1" {
            args.push("--data".to_owned());
            args.push(format!(
                "<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            ));
        }
        args.push(format!("{}/{bucket}", self.url));
        let ok = Command::new("curl")
            .args(&args)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "creating bucket {bucket} at moto failed");
    }

    /// The keys of every object in a bucket (first 1000; the tests hold a handful).
    pub fn objects(&self, bucket: &str) -> Vec<String> {
        let out = Command::new("curl")
            .args(["-fsS", &format!("{}/{bucket}?list-type=2", self.url)])
            .output()
            .expect("curl");
        assert!(out.status.success(), "listing bucket {bucket} failed");
        let xml = String::from_utf8_lossy(&out.stdout);
        xml.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect()
    }

    /// The names of the Bedrock custom models and customization jobs moto holds, from its
    /// Bedrock API (its `data.json` lists every model ever made, deleted or not). moto picks the
    /// service from the SigV4 credential scope and does not check the signature.
    pub fn bedrock_names(&self) -> (Vec<String>, Vec<String>) {
        let get = |path: &str| -> serde_json::Value {
            let out = Command::new("curl")
                .args([
                    "-fsS",
                    "-H",
                    "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0",
                    &format!("{}{path}", self.url),
                ])
                .output()
                .expect("curl");
            assert!(out.status.success(), "moto {path} failed");
            serde_json::from_slice(&out.stdout).expect("moto answers JSON")
        };
        let names = |v: serde_json::Value, list: &str, field: &str| -> Vec<String> {
            v[list]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m[field].as_str().map(str::to_owned))
                .collect()
        };
        (
            names(
                get("/custom-models?maxResults=1000"),
                "modelSummaries",
                "modelName",
            ),
            names(
                get("/model-customization-jobs?maxResults=1000"),
                "modelCustomizationJobSummaries",
                "jobName",
            ),
        )
    }

    /// Settings for a Bedrock provider config on this moto: the static test credentials moto
    /// accepts, in the AWS credentials-file form a provider config's Secret holds.
    pub const CREDENTIALS_FILE: &'static str =
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n";

    /// moto's own view of its state (`/moto-api/data.json`): every resource it holds.
    pub fn data(&self) -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-fsS", &format!("{}/moto-api/data.json", self.url)])
            .output()
            .expect("curl");
        assert!(out.status.success(), "moto data.json failed");
        serde_json::from_slice(&out.stdout).expect("moto data.json is JSON")
    }
}
