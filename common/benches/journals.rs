//! Throughput of the accounting core: order bundles → sale and refund journals → GlInterface.csv
//! → zip. Run with `cargo bench -p common --bench journals`; it prints its figures.
//!
//! The poster builds one import per SQS batch (up to `posting.batch_size` journals), so what
//! matters is the time per order and per import file, far below the Lambda timeout.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine;
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
            renumber(&mut doc, 10_000 + i as u64);
            OrderBundle::from_value(doc).unwrap()
        })
        .collect();

    let ctx = JournalContext::new(&config, "us").unwrap();
    let start = now();
    let mut journals = Vec::with_capacity(orders * 2);
    for b in &bundles {
        journals.push(build_sale(&ctx, b).unwrap());
        for r in &b.refunds {
            journals.push(build_refund(&ctx, b, r.id).unwrap());
        }
    }
    let build = now() - start;
    let lines: usize = journals.iter().map(|j| j.lines.len()).sum();

    let batch = config.posting.batch_size as usize;
    let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let imports = journals.len().div_ceil(batch);
    // The poster's path: one import file per batch of journals, its zip sent as base64.
    let start = now();
    let (mut csv_bytes, mut zip_bytes) = (0usize, 0usize);
    for (group, chunk) in journals.chunks(batch).enumerate() {
        let import = fbdi::build_import(chunk, group as u64 + 1, date).unwrap();
        csv_bytes += import.csv.len();
        zip_bytes += import.zip.len();
        black_box(import.base64());
    }
    let write = now() - start;
    // Where the writing time goes: the same files again, one stage at a time.
    let (mut csv_time, mut zip_time, mut b64_time) = Default::default();
    for (group, chunk) in journals.chunks(batch).enumerate() {
        let t = now();
        let csv = fbdi::gl_interface_csv(chunk, group as u64 + 1, date).unwrap();
        csv_time += now() - t;
        let t = now();
        let zip = fbdi::zip_csv(&csv).unwrap();
        zip_time += now() - t;
        let t = now();
        black_box(base64::engine::general_purpose::STANDARD.encode(&zip));
        b64_time += now() - t;
    }

    println!("timed by:               {}", clock_name());
    let per = |d: std::time::Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    let stage = |d: std::time::Duration| format!("{:.1} µs", per(d, orders));
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
        "FBDI csv+zip+base64:    {:.1} ms total, {:.1} µs per journal, {imports} imports of {batch}, {:.1} KiB csv -> {:.1} KiB zipped per import",
        write.as_secs_f64() * 1e3,
        per(write, journals.len()),
        csv_bytes as f64 / 1024.0 / imports as f64,
        zip_bytes as f64 / 1024.0 / imports as f64
    );
    println!(
        "  per order by stage:   csv {}, zip {}, base64 {}",
        stage(csv_time),
        stage(zip_time),
        stage(b64_time)
    );
    let total = per(build + write, orders);
    println!(
        "build + write:          {total:.1} µs per order (target: under {TARGET_US:.0} µs) {}",
        if total < TARGET_US { "ok" } else { "OVER" }
    );
}

/// The time the bench's thread has spent running (Linux: `/proc/thread-self/schedstat`), so
/// that the figures do not count the time other processes on a shared machine took the CPU;
/// elsewhere the time since the first call.
fn now() -> Duration {
    thread_cpu().unwrap_or_else(|| {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    })
}

fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn clock_name() -> &'static str {
    if thread_cpu().is_some() {
        "the thread's CPU time (time other processes ran is not counted)"
    } else {
        "wall time"
    }
}

/// What building and writing one order's journals may cost at most (issue 11): the file must
/// not cost more than the accounting it carries.
const TARGET_US: f64 = 30.0;

/// Gives the example bundle order id `id`: the order's, and the `order_id` of its line items,
/// refunds and transactions (the bundle checks they agree), as a number or as text like the
/// example's.
fn renumber(doc: &mut serde_json::Value, id: u64) {
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
}
