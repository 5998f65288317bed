//! `mlc demo` as a newcomer runs it (the README's first command), then `mlc audit` on the state
//! it left: the whole local pipeline against the sandboxes, with real outcomes checked; and the
//! scratch directory it works in without `--state`, gone when it ends.

use std::process::Command;

#[test]
fn the_demo_posts_every_journal_once_and_leaves_an_audit_trail() {
    let dir = std::env::temp_dir().join(format!("mlc-demo-test-{}", std::process::id()));
    // A document left world-readable by an earlier run, or by a careless umask.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("connector.json"), "{}").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("connector.json"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mlc"))
        .args(["demo", "--state", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The document the demo wrote holds the sandboxes' secrets: only its owner may read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("connector.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "connector.json is {mode:o}");
    }
    // Five sales, then a refund, a reversal and an adjustment, then order 101 cancelled after
    // its refund and refunded the rest: ten postings, all posted.
    assert!(stdout.contains("Postings: {\"posted\": 10}"), "{stdout}");
    for batch in [
        "BC-us-100-sale",
        "BC-us-101-refund-1",
        "BC-us-101-reversal",
        "BC-us-101-refund-2",
        "BC-us-102-reversal",
        "BC-us-103-adjust-1",
        "BC-eu-104-sale",
    ] {
        assert_eq!(
            stdout.matches(&format!("  {batch}  ")).count(),
            1,
            "{batch} once:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("BC-us-105"),
        "the unpaid order posts nothing:\n{stdout}"
    );
    // The EU order went to the EU ledger with the EU entity and VAT account.
    assert!(
        stdout.contains("BC-eu-104-sale  ledger NW EU Primary  EUR"),
        "{stdout}"
    );
    assert!(stdout.contains("201-000-2310-000-000"), "{stdout}");
    // The reconciliation at the end ties the six orders out against the pod: five in the
    // ledger as recorded, the unpaid one with nothing to post.
    assert!(
        stdout.contains("`mlc reconcile` for today: everything ties out.")
            && stdout.contains("6 orders: 5 matched, 1 nothing to post"),
        "{stdout}"
    );
    assert!(
        stdout.contains("us USD: 9 postings") && stdout.contains("eu EUR: 1 postings"),
        "{stdout}"
    );
    // Read as a controller would: order 101 ends with nothing anywhere; order 102, cancelled and
    // never refunded, still owes the card's 21.60 back to the shopper.
    assert!(
        stdout.contains("us/101: nothing (every account nets to zero)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("us/102: 101-000-1210-000-000 21.60, 101-000-2440-000-000 -21.60"),
        "{stdout}"
    );

    let audit = Command::new(env!("CARGO_BIN_EXE_mlc"))
        .args([
            "audit",
            "--state",
            dir.join("state.db").to_str().unwrap(),
            "--store",
            "us",
            "--order-id",
            "101",
        ])
        .output()
        .unwrap();
    let trail = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.status.success(), "{trail}");
    let kinds: Vec<&str> = trail
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        kinds,
        [
            "fetched",
            "mapped",
            "validated",
            "submitted",
            "posted",
            "fetched",
            "mapped",
            "validated",
            "submitted",
            "posted",
            "fetched",
            "reversed",
            "validated",
            "submitted",
            "posted",
            "fetched",
            "mapped",
            "validated",
            "submitted",
            "posted"
        ],
        "{trail}"
    );
    assert!(
        trail
            .lines()
            .skip(5)
            .all(|l| l.contains("links to BC-us-101-sale") || l.contains("fetched")),
        "{trail}"
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_mlc"))
        .args([
            "audit",
            "--state",
            "/nonexistent/state.db",
            "--store",
            "us",
            "--order-id",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("/nonexistent/state.db: no such state database")
    );
    // A posted journal is never sent again; a bad --posting is named.
    let state = dir.join("state.db");
    let config = dir.join("connector.json");
    let replay = |posting: &str| {
        Command::new(env!("CARGO_BIN_EXE_mlc"))
            .args([
                "replay",
                "--config",
                config.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
            ])
            .args(["--store", "us", "--order-id", "101", "--posting", posting])
            .output()
            .unwrap()
    };
    let posted = replay("sale");
    assert_eq!(posted.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&posted.stderr)
            .contains("posting us/101/sale is posted: only held or rejected postings are replayed"),
        "{}",
        String::from_utf8_lossy(&posted.stderr)
    );
    // A posting that was never recorded is the caller's input: exit code 2, named.
    let unknown = replay("refund:999");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no posting us/101/refund:999 is recorded"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let bad = replay("refund");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--posting \"refund\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Without `--state`, the demo works in a scratch directory that is gone when it ends: after a
/// run to the end, and after Ctrl-C part-way through.
#[test]
fn the_demo_removes_its_scratch_directory_when_done_or_interrupted() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let tmp = tempfile::tempdir().unwrap();
    let demo = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mlc"));
        command.arg("demo").env("TMPDIR", tmp.path());
        command
    };
    let left = || std::fs::read_dir(tmp.path()).unwrap().count();

    let out = demo().output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("Postings: {\"posted\": 10}"), "{stdout}");
    assert!(
        stdout.contains(&format!("State: {}", tmp.path().display())),
        "the scratch directory is under TMPDIR: {stdout}"
    );
    assert_eq!(left(), 0, "left behind after a finished demo");

    // Interrupted once the first step is printed: the state directory exists by then.
    let mut child = demo().stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut state = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("State: ") {
            state = rest.split(' ').next().map(std::path::PathBuf::from);
        }
        if line.starts_with("1. ") {
            break;
        }
    }
    let state = state.expect("the demo names its state directory");
    assert!(state.join("state.db").exists(), "{}", state.display());
    let interrupt = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    lines.for_each(drop);
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "an interrupted demo does not say it succeeded"
    );
    assert!(!state.exists(), "{} left after Ctrl-C", state.display());
    assert_eq!(left(), 0, "left behind after Ctrl-C");
}

#[test]
fn the_demo_summary_is_one_json_document_with_the_story_on_standard_error() {
    let dir = std::env::temp_dir().join(format!("mlc-demo-json-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_mlc"))
        .args(["demo", "--state", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["postings"], serde_json::json!({"posted": 10}));
    assert_eq!(summary["orders"]["eu"][0], 104);
    assert!(summary["oracle_imports"].as_u64().unwrap() >= 1);
    assert_eq!(
        summary["reconciliation"]["counts"]["matched"], 5,
        "{stdout}"
    );
    assert!(stderr.contains("Journals in Oracle"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
