//! The webhook function: an API Gateway (HTTP API) request carrying a BigCommerce delivery
//! becomes a queue message through [`common::posting::intake::FrontDoor`], the same desk
//! `mlc serve` answers with. The raw body is used exactly as received, because the signature
//! covers its bytes.

// Every public item says why it exists (the project standard); clippy -D warnings holds it.
#![warn(missing_docs)]

use common::metrics::Metrics;
use common::ports::Ports;
use common::posting::intake::{Answer, FrontDoor};
use lambda_http::{Body, Request, Response};

/// What the function keeps between invocations.
pub struct WebhookApp {
    door: FrontDoor,
    namespace: String,
}

impl WebhookApp {
    /// An app over these ports, its metrics in `namespace`.
    pub fn new(ports: Ports, namespace: &str) -> Self {
        Self {
            door: FrontDoor::new(ports),
            namespace: namespace.to_string(),
        }
    }

    /// Answers one request, and prints its metrics line.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let body: &[u8] = match request.body() {
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
            // Empty (and any kind a later lambda_http adds): no body, which intake refuses.
            _ => &[],
        };
        let mut metrics = Metrics::default();
        let answer = self
            .door
            .answer(request.headers(), body, &mut metrics)
            .await;
        let now = self.door.ports().clock.now();
        for line in metrics.to_emf_lines(&self.namespace, now) {
            println!("{line}");
        }
        response(answer)
    }
}

fn response(answer: Answer) -> Response<Body> {
    Response::builder()
        .status(answer.status)
        .header("content-type", Answer::CONTENT_TYPE)
        .body(Body::from(answer.body))
        .expect("a valid response")
}
