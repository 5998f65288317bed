//! The Journal Import zip, written at deflate's fastest level, read by standard tools: `unzip`
//! and Python's `zipfile` test it and give back `GlInterface.csv` byte for byte. (The sandbox pod
//! reads every import the other tests send.)

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use chrono::NaiveDate;
use common::bigcommerce::OrderBundle;
use common::journal::{Journal, JournalContext, build_refund, build_sale};
use common::oracle::fbdi;

/// The example order's sale and refund journals, as orders `first..first + n`, plus one whose
/// descriptions need quoting and carry non-ASCII text.
fn journals(first: u64, n: u64) -> Vec<Journal> {
    let config = example_config();
    let ctx = JournalContext::new(&config, "us").unwrap();
    let text = std::fs::read_to_string(repo_root().join("infra/examples/orders/us-1001.json"))
        .expect("the example order");
    let template: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for id in first..first + n {
        let mut doc = template.clone();
        doc["order"]["id"] = id.into();
        for list in doc.as_object_mut().unwrap().values_mut() {
            for item in list.as_array_mut().into_iter().flatten() {
                match item.get("order_id") {
                    Some(serde_json::Value::String(_)) => item["order_id"] = id.to_string().into(),
                    Some(_) => item["order_id"] = id.into(),
                    None => {}
                }
            }
        }
        let bundle = OrderBundle::from_value(doc).unwrap();
        out.push(build_sale(&ctx, &bundle).unwrap());
        for r in &bundle.refunds {
            out.push(build_refund(&ctx, &bundle, r.id).unwrap());
        }
    }
    let mut odd = out[0].clone();
    odd.batch_name = format!("{}-odd", odd.batch_name);
    odd.description = "Café \"Nord\", ünïcode, 12\" pan".into();
    for line in &mut odd.lines {
        line.description = format!("{}, \"quoted\"", line.description);
    }
    out.push(odd);
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique("fbdi-zip"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(program: &str, args: &[&str], file: &Path) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not be started: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} refused the zip: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn standard_unzip_tools_test_the_import_zip_and_read_back_the_csv() {
    let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let import = fbdi::build_import(&journals(50_000, 60), 31, date).unwrap();
    assert!(
        import.zip.len() * 10 < import.csv.len(),
        "deflated, not stored: {} bytes for {} of CSV",
        import.zip.len(),
        import.csv.len()
    );
    let path = scratch(&import.zip_name());
    std::fs::write(&path, &import.zip).unwrap();

    let tested = String::from_utf8(run("unzip", &["-t"], &path)).unwrap();
    assert!(
        tested.contains("testing: GlInterface.csv") && tested.contains("OK"),
        "{tested}"
    );
    assert!(tested.contains("No errors detected"), "{tested}");
    assert_eq!(run("unzip", &["-p"], &path), import.csv.as_bytes());

    let listed = String::from_utf8(run("python3", &["-m", "zipfile", "-l"], &path)).unwrap();
    assert!(listed.contains("GlInterface.csv"), "{listed}");
    let tested = String::from_utf8(run("python3", &["-m", "zipfile", "-t"], &path)).unwrap();
    assert!(tested.contains("Done testing"), "{tested}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
