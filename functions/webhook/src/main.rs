//! Webhook Lambda: BigCommerce → verify → dedupe → SQS. Until the intake service lands it
//! answers every delivery with 503, so BigCommerce keeps retrying and nothing is acknowledged
//! that was not recorded.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

/// What the function answers while the intake service is not wired in.
async fn handler(_request: Request) -> Result<Response<Body>, Error> {
    let body = serde_json::json!({
        "error": "not_configured",
        "message": "ml-connector webhook intake is not configured in this build; BigCommerce will retry and the poller catches up",
    });
    Ok(Response::builder()
        .status(503)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_deliveries_it_cannot_record() {
        let response = handler(Request::default()).await.unwrap();
        assert_eq!(response.status(), 503);
        let Body::Text(text) = response.body() else {
            panic!("expected a text body");
        };
        assert!(text.contains("not_configured"));
    }
}
