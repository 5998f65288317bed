//! `mlc ping` as someone setting the connector up runs it: every check on its line, the fix
//! under a failure, exit code 1 when anything fails, 0 when only warnings remain.

use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{document_for, seeded_pod, seeded_store};
use sandbox::oracle::PodOptions;
use serde_json::{Value, json};

use crate::support::{example_document, mlc, scratch, text, write};

fn ping(doc: &Value, name: &str) -> (Option<i32>, String, String) {
    let path = write(&scratch(&format!("ping-{name}")), "connector.json", doc);
    let out = mlc(&["ping", "--config", path.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_passes_a_matching_document_and_names_the_fix_for_a_bad_one() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let good = document_for(&example_document(), &sb, &pod);
    let (code, stdout, stderr) = ping(&good, "good");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok    Oracle"), "{stdout}");
    assert!(
        stdout.contains("ok    BigCommerce store us (nw4x7k2p): orders readable"),
        "{stdout}"
    );
    assert!(stdout.contains("warn  BigCommerce"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");

    let mut bad = good.clone();
    // The ledger's name as someone remembered it, not as Oracle has it.
    bad["oracle"]["ledgers"][0]["name"] = json!("NW US Main");
    bad["stores"][0]["ledger"] = json!("NW US Main");
    let (code, stdout, stderr) = ping(&bad, "bad");
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("FAIL  Oracle      ledger NW US Main"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix: oracle.ledgers[0]: name \"NW US Primary\""),
        "{stdout}"
    );
    assert!(stderr.contains("1 check(s) failed"), "{stderr}");
}
