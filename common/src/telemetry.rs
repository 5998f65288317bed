//! Logs as one JSON object per line, filtered by `RUST_LOG` (default `info`). Secrets never
//! reach a log: they are redacted types, and the services log identifiers, never bodies.
//!
//! Each line carries, at its top level, the fields of the spans it was written in (outermost
//! first, an inner span's value winning) beside its own, so CloudWatch Logs Insights finds every
//! line of an order with `filter order_id = 123`, whichever step wrote it. The spans name what
//! they work on with one vocabulary:
//!
//! - `store`: the connector document's store id (`us`), the posting key's store;
//! - `store_hash`: the BigCommerce store, where no store entry is known yet (a delivery, a
//!   sweep, an order before it is routed by channel);
//! - `order_id`: the BigCommerce order id;
//! - `posting`: the posting (`us/1001/sale`);
//! - `group_id`: the Journal Import's GROUP_ID;
//! - `request_id`: the Import Journals job's ESS request id.
//!
//! `span` names the innermost span and `spans` lists them all, outermost first.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Installs the JSON log subscriber (once per process; later calls do nothing).
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing::subscriber::set_global_default(json_subscriber(std::io::stdout, filter));
}

/// The subscriber [`init_json_logs`] installs, writing to `writer`: tests capture the lines a
/// function would write with it.
pub fn json_subscriber<W>(
    writer: W,
    filter: tracing_subscriber::EnvFilter,
) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(SpanFieldsJson)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// One JSON object per event: time, level, the spans' fields, the event's fields.
struct SpanFieldsJson;

impl<S> FormatEvent<S, JsonFields> for SpanFieldsJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert(
            "level".into(),
            Value::String(event.metadata().level().to_string()),
        );
        let mut names = Vec::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                names.push(Value::String(span.name().to_string()));
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                // JsonFields keeps a span's fields as the text of one JSON object.
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    line.extend(fields);
                }
            }
        }
        if let Some(Value::String(innermost)) = names.last() {
            line.insert("span".into(), Value::String(innermost.clone()));
            line.insert("spans".into(), Value::Array(names));
        }
        event.record(&mut EventFields(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// An event's own fields, as JSON values where they have a JSON type.
struct EventFields<'a>(&'a mut Map<String, Value>);

impl Visit for EventFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What the subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_carries_its_spans_fields_at_the_top_level() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = json_subscriber(
            move || writer.clone(),
            tracing_subscriber::EnvFilter::new("info"),
        );
        tracing::subscriber::with_default(subscriber, || {
            let batch = tracing::info_span!("batch", group_id = 7);
            let _b = batch.enter();
            let order =
                tracing::info_span!("order", store = tracing::field::Empty, order_id = 1001u64);
            let _o = order.enter();
            order.record("store", "us");
            tracing::warn!(reason = "a test", "held");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["order_id"], 1001, "{line}");
        assert_eq!(line["store"], "us", "{line}");
        assert_eq!(line["group_id"], 7, "{line}");
        assert_eq!(line["message"], "held", "{line}");
        assert_eq!(line["reason"], "a test", "{line}");
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["span"], "order", "{line}");
        assert_eq!(
            line["spans"],
            serde_json::json!(["batch", "order"]),
            "{line}"
        );
    }
}
