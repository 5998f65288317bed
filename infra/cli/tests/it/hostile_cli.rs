//! The command line and `mlc serve` against hostile or careless input (issue 10, item 4): a
//! secret in the wrong place of the document is never quoted back, a caller who is not
//! authenticated learns nothing about the configuration, and an oversized delivery is refused
//! before it is read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{example_document, mlc, scratch, text, write};

/// A secret pasted where the document expects an object.
const MISPLACED: &str = "oracle-client-secret-3f9a";

fn misplaced_secret_document() -> Value {
    let mut doc = example_document();
    doc["oracle"]["auth"] = json!(MISPLACED);
    doc
}

/// `mlc serve` on a free port of this machine, stopped when the test ends.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `mlc serve` on `config` (its logs to `dir/serve.log`) and waits until it listens.
    /// The example document's credentials name unset variables, so nothing is called upstream.
    fn start(dir: &Path, config: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_mlc"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .args(["--state", dir.join("state.db").to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--poll-seconds", "3600"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let serve = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mlc serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    /// Sends `head` (request line and headers, without the blank line) and `body` on one
    /// connection; returns what came back within `wait`.
    fn exchange(&self, head: &str, body: &[u8], wait: Duration) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(wait)).unwrap();
        stream
            .write_all(format!("{head}\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        stream.write_all(body).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    // One answer is all a test needs; the server may keep the connection.
                    let text = String::from_utf8_lossy(&got);
                    if let Some((head, rest)) = text.split_once("\r\n\r\n")
                        && content_length(head).is_some_and(|n| rest.len() >= n)
                    {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

fn post(serve: &Serve, body: &str) -> String {
    serve.exchange(
        &format!(
            "POST /webhooks HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
            body.len()
        ),
        body.as_bytes(),
        Duration::from_secs(20),
    )
}

#[test]
fn config_check_never_quotes_a_secret_in_the_wrong_place() {
    let dir = scratch("hostile-check");
    let config = write(&dir, "connector.json", &misplaced_secret_document());
    let out = mlc(&["config", "check", "--config", config.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("oracle.auth: invalid type: string, expected"),
        "{stderr}"
    );
    assert!(!format!("{stdout}{stderr}").contains(MISPLACED), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serve_tells_a_caller_only_that_the_connector_is_not_configured() {
    let dir = scratch("hostile-serve-503");
    let config = write(&dir, "connector.json", &example_document());
    let serve = Serve::start(&dir, &config);
    // The operator breaks the document while the endpoint runs.
    std::thread::sleep(Duration::from_millis(20));
    write(&dir, "connector.json", &misplaced_secret_document());
    let answer = post(&serve, r#"{"scope": "store/order/created"}"#);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"error": "unavailable", "message": "the connector is not configured; retry later"}),
        "{answer}"
    );
    // The operator's log says where the problem is, without the secret.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !serve.log().contains("oracle.auth") {
        assert!(Instant::now() < deadline, "{}", serve.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!serve.log().contains(MISPLACED), "{}", serve.log());
    drop(serve);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serve_refuses_an_oversized_delivery_before_reading_it() {
    let dir = scratch("hostile-serve-413");
    let config = write(&dir, "connector.json", &example_document());
    let serve = Serve::start(&dir, &config);
    // Announced as a megabyte (under the framework's own 2 MB default): the answer comes at
    // once, before the sender has sent more than a few bytes of it.
    let started = Instant::now();
    let answer = serve.exchange(
        "POST /webhooks HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1000000",
        b"{\"scope\":",
        Duration::from_secs(10),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Without a length (chunked), the limit holds while reading.
    let chunk = "x".repeat(16 * 1024);
    let mut body = String::new();
    for _ in 0..6 {
        body.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    body.push_str("0\r\n\r\n");
    let answer = serve.exchange(
        "POST /webhooks HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked",
        body.as_bytes(),
        Duration::from_secs(20),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    drop(serve);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn preview_of_an_order_in_a_currency_that_is_not_iso_4217_is_bad_input() {
    let dir = scratch("hostile-currency");
    let mut bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::support::root().join("infra/examples/orders/us-1001.json"))
            .unwrap(),
    )
    .unwrap();
    bundle["order"]["currency_code"] = json!("XBT");
    bundle["order"]["default_currency_code"] = json!("XBT");
    let file = write(&dir, "xbt.json", &bundle);
    let out = mlc(&[
        "preview",
        "--config",
        crate::support::example_config().to_str().unwrap(),
        "--order-file",
        file.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("\"XBT\"") && stderr.contains("ISO 4217"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "no journal shown: {stdout}");
    std::fs::remove_dir_all(&dir).ok();
}
