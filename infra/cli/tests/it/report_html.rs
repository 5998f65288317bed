//! `mlc reconcile --format html --out FILE` on a sandbox-backed period with findings, and the
//! page opened in a real headless Chromium: it renders, its script runs without an error, the
//! chart has a bar per day with the days that have findings marked, and the figures are there.
//!
//! The browser part runs when `MLC_BROWSER` names the browser (`./infra/test.sh` installs
//! Debian's Chromium and sets it). Without it only the page itself is checked, and the test
//! says so; with it set but the browser missing, the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveTime, Utc};
use common::adapters::local_queue::LocalQueue;
use common::adapters::secrets::FileSource;
use common::adapters::sqlite::{SqliteDb, SqliteStore};
use common::bigcommerce::ClientSettings;
use common::journal::PostingKind;
use common::oracle::FusionSettings;
use common::ports::{SecretSource, SystemClock};
use common::posting::poller::poll;
use common::posting::poster::drain_queue;
use common::posting::services::{PipelineSettings, Services};
use common::state::{PostingKey, PostingState, StateName};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::demo::{HASH, seeded_pod, seeded_store, us_order};
use sandbox::oracle::PodOptions;

use crate::support::{mlc, sandboxed_config, scratch, text};

/// The flags Chromium needs on this machine (as root, no GPU, no network of its own).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_renders_in_a_browser_with_totals_a_bar_per_day_and_the_orders_to_act_on() {
    let sb = seeded_store(SandboxOptions::default()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let dir = scratch("report-html");
    let config = sandboxed_config(&dir, &sb, &pod);
    let state = dir.join("state.db");
    let db = SqliteDb::open(&state).unwrap();

    // Three orders on three days (UTC, as the report without --store counts them): two
    // posted, of which a person then deletes one's batch in Fusion, and one never taken up.
    let today = Utc::now().date_naive();
    let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap();
    let on = |days_ago: u64, time: NaiveTime| {
        let mut spec = us_order(1, 1);
        spec.created_at = Some((today - Days::new(days_ago)).and_time(time).and_utc());
        sb.create_order(HASH, spec)
    };
    let matched = on(2, noon);
    let deleted = on(1, noon);
    let from = (today - Days::new(3)).to_string();
    let to = (today + Days::new(1)).to_string();
    let (config_arg, state_arg) = (config.to_str().unwrap(), state.to_str().unwrap());
    let period = [
        "reconcile",
        "--config",
        config_arg,
        "--state",
        state_arg,
        "--from",
        &from,
        "--to",
        &to,
    ];
    let mut fix = period.to_vec();
    fix.push("--fix");
    assert_eq!(mlc(&fix).status.code(), Some(1));
    let svc = services(&config, &db).await;
    post_all(&svc, &[matched, deleted]).await;
    let batch_id = match svc
        .store
        .posting(&sale(deleted))
        .await
        .unwrap()
        .unwrap()
        .state
    {
        PostingState::Posted { batch_id, .. } => batch_id,
        other => panic!("not posted: {other:?}"),
    };
    assert!(pod.delete_batch(batch_id));
    let missed = on(0, NaiveTime::MIN);

    // --format html without --out is refused, naming --out, before any system is asked.
    let asked = sb.request_count(HASH);
    let mut no_out = period.to_vec();
    no_out.extend(["--format", "html"]);
    let out = mlc(&no_out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("--out: required with --format html"),
        "{}",
        text(&out).1
    );
    assert_eq!(sb.request_count(HASH), asked);

    let page_path = dir.join("reconciliation.html");
    let mut html = no_out.clone();
    html.extend(["--out", page_path.to_str().unwrap()]);
    let out = mlc(&html);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "the page goes to --out only: {stdout}");
    assert!(stderr.contains("3 orders, 2 needing action"), "{stderr}");
    let page = std::fs::read_to_string(&page_path).unwrap();

    // The figures the page must carry: both posted sales recorded, only one in the ledger.
    let dr = |order: u64| {
        let svc = &svc;
        async move {
            svc.store
                .posting(&sale(order))
                .await
                .unwrap()
                .unwrap()
                .journal
                .total_dr()
        }
    };
    let (kept, lost) = (dr(matched).await, dr(deleted).await);
    let figures = Figures {
        recorded: (kept + lost).to_string(),
        ledger: kept.to_string(),
        difference: (-lost).to_string(),
        deleted: deleted.to_string(),
        missed: missed.to_string(),
        days: 4,
        marked: 2,
    };
    check_page(&page, &figures);
    match std::env::var_os("MLC_BROWSER") {
        Some(browser) => check_in_browser(Path::new(&browser), &page_path, &dir, &figures),
        None => eprintln!(
            "the browser part of this test was not run: set MLC_BROWSER=/usr/bin/chromium \
             (./infra/test.sh installs Chromium and sets it)"
        ),
    }
}

/// What the page must show.
struct Figures {
    recorded: String,
    ledger: String,
    difference: String,
    deleted: String,
    missed: String,
    days: usize,
    marked: usize,
}

/// The page as written: well-formed, self-contained, with the figures.
fn check_page(page: &str, f: &Figures) {
    assert!(page.starts_with("<!DOCTYPE html>"));
    balanced(page);
    for external in ["src=", "href=", "@import", "url("] {
        assert!(
            !page.contains(external),
            "the page fetches something: {external}"
        );
    }
    assert!(
        page.contains(&format!("<td class=\"num recorded\">{}</td>", f.recorded)),
        "{page}"
    );
    assert!(
        page.contains(&format!("<td class=\"num ledger\">{}</td>", f.ledger)),
        "{page}"
    );
    assert!(
        page.contains(&format!("<td class=\"num differs\">{}</td>", f.difference)),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "data-order=\"{}\"><td>missing from the ledger</td>",
            f.deleted
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("data-order=\"{}\"><td>not posted</td>", f.missed)),
        "{page}"
    );
    assert_eq!(page.matches("<g class=\"day").count(), f.days, "{page}");
    assert_eq!(
        page.matches("<g class=\"day has-findings\"").count(),
        f.marked
    );
}

/// Every element opened is closed, in order (the page is written as well-formed markup; void
/// elements and the script's and style's text aside).
fn balanced(page: &str) {
    const VOID: &[&str] = &["meta", "br", "hr", "img", "input", "link"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').expect("a tag is closed");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = open.pop().unwrap_or_default();
            assert_eq!(top, name.trim(), "</{name}> closes <{top}>");
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "script" || name == "style" {
            let close = format!("</{name}>");
            let end = rest.find(&close).expect("script and style are closed");
            rest = &rest[end + close.len()..];
            continue;
        }
        open.push(name);
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

/// The page in headless Chromium: the DOM after its script ran, and the browser's log.
fn check_in_browser(browser: &Path, page: &Path, dir: &Path, f: &Figures) {
    assert!(
        browser.is_file(),
        "MLC_BROWSER={} is not installed: run ./infra/test.sh (it installs Debian's chromium)",
        browser.display()
    );
    let profile = dir.join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new(browser)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} did not start: {e}", browser.display()));
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("{} did not finish within 90 s", browser.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}: {:?}\n{log}",
        browser.display(),
        out.status
    );
    // The page's script ran to its end, and nothing threw.
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the script did not finish:\n{dom}\n{log}"
    );
    assert!(!dom.contains("id=\"script-error\""), "{dom}");
    for line in log.lines() {
        assert!(
            !line.contains("Uncaught") && !line.contains("Content Security Policy"),
            "the browser reported: {line}"
        );
    }
    // Rendered: the chart and the figures in the DOM the browser built.
    assert_eq!(dom.matches("<g class=\"day").count(), f.days, "{dom}");
    assert_eq!(
        dom.matches("<g class=\"day has-findings\"").count(),
        f.marked
    );
    for figure in [&f.recorded, &f.ledger, &f.difference, &f.deleted, &f.missed] {
        assert!(
            dom.contains(figure.as_str()),
            "{figure} is not in the rendered page:\n{dom}"
        );
    }
}

fn sale(order_id: u64) -> PostingKey {
    PostingKey {
        store: "us".into(),
        order_id,
        posting: PostingKind::Sale,
    }
}

/// The pipeline's services on the test's state, as `mlc serve` builds them.
async fn services(config: &PathBuf, db: &SqliteDb) -> Services {
    let doc = FileSource::new(config).connector_document().await.unwrap();
    Services::connect(
        doc.clone(),
        Arc::new(SqliteStore::new(db.clone())),
        Arc::new(LocalQueue::new(db.clone(), "orders", 5)),
        Arc::new(SystemClock),
        PipelineSettings::for_config(&doc),
        ClientSettings::default(),
        FusionSettings::default(),
    )
    .unwrap()
}

/// Runs the poster and the tracker until these orders' sales are posted.
async fn post_all(svc: &Services, orders: &[u64]) {
    for _ in 0..300 {
        drain_queue(svc, svc.queue.as_ref(), Duration::from_secs(1))
            .await
            .unwrap();
        poll(svc).await;
        let mut posted = 0;
        for order in orders {
            let state = svc.store.posting(&sale(*order)).await.unwrap();
            posted += usize::from(state.is_some_and(|p| p.state.name() == StateName::Posted));
        }
        if posted == orders.len() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("orders {orders:?} were not all posted");
}
