//! Helpers shared by the command-line tests: the repository, running `mlc`, scratch folders,
//! and the example document pointed at the sandboxes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use sandbox::bigcommerce::BigCommerceSandbox;
use sandbox::demo::document_for;
use sandbox::oracle::OraclePod;
use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shipped example document.
pub fn example_config() -> PathBuf {
    root().join("infra/examples/connector.json")
}

/// Runs the built `mlc` with `args`.
pub fn mlc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlc"))
        .args(args)
        .output()
        .unwrap()
}

/// Standard output and standard error as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A new, empty folder of this test process.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mlc-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A report `mlc` wrote as CSV, header included, read by a standard reader; every line ends
/// with CRLF, as spreadsheets expect.
pub fn read_csv(text: &str) -> Vec<Vec<String>> {
    assert!(
        text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\r'),
        "CRLF line ends: {text:?}"
    );
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Writes `value` as `dir/name`.
pub fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

/// The example document as JSON.
pub fn example_document() -> Value {
    serde_json::from_str(&std::fs::read_to_string(example_config()).unwrap()).unwrap()
}

/// The example document pointed at the sandboxes, written to `dir/connector.json`.
pub fn sandboxed_config(dir: &Path, sb: &BigCommerceSandbox, pod: &OraclePod) -> PathBuf {
    write(
        dir,
        "connector.json",
        &document_for(&example_document(), sb, pod),
    )
}
