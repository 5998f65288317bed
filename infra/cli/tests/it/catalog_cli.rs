//! `mlc catalog` against the sandbox store: where each category's revenue goes, and exit code
//! 1 once merchandising adds a category no rule covers.

use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, seeded_pod, seeded_store};
use sandbox::oracle::PodOptions;

use crate::support::{mlc, read_csv, sandboxed_config, scratch, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_shows_each_categorys_account_and_flags_a_new_one() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let config = sandboxed_config(&scratch("catalog"), &sb, &pod);
    let args = [
        "catalog",
        "--config",
        config.to_str().unwrap(),
        "--store",
        "us",
    ];

    let out = mlc(&args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let shirts = stdout
        .lines()
        .find(|l| l.contains("Apparel › Shirts"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        shirts.contains("101-310-4010-100-000") && shirts.contains("rule:apparel"),
        "{shirts}"
    );
    assert!(!stdout.contains("no rule"), "{stdout}");
    let mut csv = args.to_vec();
    csv.extend(["--format", "csv"]);
    let out = mlc(&csv);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    let rows = read_csv(&stdout);
    assert_eq!(
        rows[0],
        [
            "store",
            "category_id",
            "path",
            "account",
            "decided_by",
            "only_defaults"
        ]
    );
    let shirts = rows
        .iter()
        .find(|r| r[1] == "21")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        shirts[..4],
        ["us", "21", "Apparel › Shirts", "101-310-4010-100-000"]
    );

    sb.add_category(HASH, 50, 0, "Garden");
    let out = mlc(&args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let garden = stdout
        .lines()
        .find(|l| l.contains("Garden"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        garden.contains("101-000-4000-000-000") && garden.contains("no rule: the defaults decide"),
        "{garden}"
    );
    assert!(stderr.contains("1 categories without a rule"), "{stderr}");

    // A name with a comma, quotes and a line break stays one field of one row.
    let hostile = "Patio, \"Teak\" and\nmore";
    sb.add_category(HASH, 51, 0, hostile);
    let out = mlc(&csv);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let rows = read_csv(&stdout);
    assert!(rows.iter().all(|r| r.len() == 6), "{stdout}");
    let patio = rows
        .iter()
        .find(|r| r[1] == "51")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(patio[..3], ["us", "51", hostile]);
    assert_eq!(patio[5], "true");
}
