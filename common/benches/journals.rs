//! Throughput of the accounting core: order bundles → sale and refund journals → GlInterface.csv
//! → zip. Run with `cargo bench -p common --bench journals`; it prints its figures.
//!
//! The poster builds one import per SQS batch (up to `posting.batch_size` journals), so what
//! matters is the time per order and per import file, far below the Lambda timeout.

use std::hint::black_box;
use std::time::Instant;

use chrono::NaiveDate;
use common::bigcommerce::OrderBundle;
use common::config::ConnectorConfig;
use common::journal::{JournalContext, build_refund, build_sale};
use common::oracle::fbdi;

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let config_path = format!("{root}/infra/examples/connector.json");
    let config =
        ConnectorConfig::load_file(std::path::Path::new(&config_path)).expect("example document");
    let text =
        std::fs::read_to_string(format!("{root}/infra/examples/orders/us-1001.json")).unwrap();
    let template: serde_json::Value = serde_json::from_str(&text).unwrap();
    let orders: usize = std::env::var("MLC_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);

    let bundles: Vec<OrderBundle> = (0..orders)
        .map(|i| {
            let mut doc = template.clone();
            doc["order"]["id"] = (10_000 + i).into();
            for r in doc["refunds"].as_array_mut().unwrap() {
                r["order_id"] = (10_000 + i).into();
            }
            OrderBundle::from_value(doc).unwrap()
        })
        .collect();

    let ctx = JournalContext::new(&config, "us").unwrap();
    let start = Instant::now();
    let mut journals = Vec::with_capacity(orders * 2);
    for b in &bundles {
        journals.push(build_sale(&ctx, b).unwrap());
        for r in &b.refunds {
            journals.push(build_refund(&ctx, b, r.id).unwrap());
        }
    }
    let build = start.elapsed();
    let lines: usize = journals.iter().map(|j| j.lines.len()).sum();

    let batch = config.posting.batch_size as usize;
    let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let start = Instant::now();
    let mut bytes = 0usize;
    for (group, chunk) in journals.chunks(batch).enumerate() {
        let import = fbdi::build_import(chunk, group as u64 + 1, date).unwrap();
        bytes += import.zip.len();
        black_box(import.base64());
    }
    let write = start.elapsed();

    let per = |d: std::time::Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "orders:                 {orders} (each: sale of 5 lines incl. a bundle and a gift certificate, one refund)"
    );
    println!("journals / lines:       {} / {lines}", journals.len());
    println!(
        "build journals:         {:.1} ms total, {:.1} µs per order",
        build.as_secs_f64() * 1e3,
        per(build, orders)
    );
    println!(
        "FBDI csv+zip+base64:    {:.1} ms total, {:.1} µs per journal, {} imports of {batch}, {:.1} KiB zipped per import",
        write.as_secs_f64() * 1e3,
        per(write, journals.len()),
        journals.len().div_ceil(batch),
        bytes as f64 / 1024.0 / journals.len().div_ceil(batch) as f64
    );
}
