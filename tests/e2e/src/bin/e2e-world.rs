//! A standing world for running the built functions under a Lambda runtime emulator
//! (`infra/lambda_smoke.py` with `cargo lambda watch`): the sandbox store and pod, and the
//! table, queue and secret on moto server (`MLC_AWS_ENDPOINT`). Writes what the functions'
//! environment must say, and one paid order to deliver, to the JSON file named by its first
//! argument; then serves until stopped.

use std::sync::Arc;

use common::adapters::aws::local;
use e2e::{
    CLIENT_SECRET, HASH, aws_endpoint, aws_resources, document_for, example_document, seeded_pod,
    seeded_store, us_order,
};
use sandbox::bigcommerce::SandboxOptions;
use sandbox::oracle::PodOptions;
use serde_json::json;

#[tokio::main]
async fn main() {
    let out = std::env::args()
        .nth(1)
        .expect("usage: e2e-world <world.json>");
    let sb = seeded_store(SandboxOptions::default().with_http_destinations()).await;
    let pod = seeded_pod(PodOptions::default()).await;
    let doc = document_for(&example_document(), &sb, &pod);
    let endpoint = aws_endpoint();
    let sdk = local(&endpoint).await;
    let (table, queue, secret) = aws_resources(&sdk, &doc, "smoke").await;
    let order_id = sb.create_order(HASH, us_order(2, 1));
    let world = json!({
        "env": {
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1", "MLC_CONFIG_SECRET": secret, "MLC_TABLE": table,
            "MLC_QUEUE_URL": queue.url(), "MLC_METRICS_NAMESPACE": "MlConnector/smoke",
        },
        "store_hash": HASH,
        "client_secret": CLIENT_SECRET,
        "order_id": order_id,
        "pod_url": pod.url(),
    });
    std::fs::write(&out, serde_json::to_string_pretty(&world).unwrap()).unwrap();
    eprintln!("e2e-world: ready ({out})");
    let _keep = Arc::new((sb, pod));
    tokio::signal::ctrl_c().await.ok();
}
