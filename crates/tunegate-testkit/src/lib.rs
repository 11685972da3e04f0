//! Test helpers shared by tunegate's integration and end-to-end tests, so that no test file
//! carries its own copy: the shared control plane and kubectl ([`cluster`]), the operator and
//! openai-sandbox as processes ([`e2e`]), moto for the Bedrock tests ([`moto`]), the Helm chart
//! ([`packaging`]), a deliberately misbehaving HTTP endpoint ([`hostile`]), and the child-process
//! probes of the teardown tests ([`probe`]).

pub mod cluster;
pub mod e2e;
pub mod hostile;
pub mod moto;
pub mod packaging;
pub mod probe;

use std::path::{Path, PathBuf};

/// The repository root (for deploy/examples, charts/, hack/).
pub fn repo_root() -> &'static Path {
    // crates/tunegate-testkit -> the workspace root.
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The path of a workspace binary (`tunegate`, `openai-sandbox`) built by the same cargo
/// invocation as the running test: the directory above the test executable's `deps/`.
/// `TUNEGATE_BIN_DIR` overrides it. `scripts/test.sh` builds every binary of the workspace before
/// the tests run; a test run on its own (`cargo test --test e2e`) needs
/// `cargo build --workspace --bins` first, and the panic below says so.
pub fn bin(name: &str) -> PathBuf {
    let dir = match std::env::var_os("TUNEGATE_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("the test executable's path");
            // target/<profile>/deps/<test>-<hash> -> target/<profile>
            exe.parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .expect("the test executable lives in target/<profile>/deps")
        }
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` (scripts/test.sh does) or set TUNEGATE_BIN_DIR",
        path.display()
    );
    path
}

/// The directory holding OpenAI's official OpenAPI spec (`openai-openapi.yaml`):
/// `$TUNEGATE_REFERENCE_DIR`, else `shared/reference/` beside the checkout (CI, main), else two
/// levels up (a git worktree under /work/wt).
pub fn reference_dir() -> PathBuf {
    let root = repo_root();
    let candidates = [
        std::env::var_os("TUNEGATE_REFERENCE_DIR").map(PathBuf::from),
        Some(root.join("../shared/reference")),
        Some(root.join("../../shared/reference")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.join("openai-openapi.yaml").is_file() {
            return c;
        }
    }
    panic!(
        "openai-openapi.yaml not found: set TUNEGATE_REFERENCE_DIR or put shared/reference/ beside the repository \
         ({}/../shared/reference)",
        root.display()
    );
}

/// Every `.rs` file below `dir`, recursively (for tests that scan the code).
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}
