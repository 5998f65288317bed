//! SQS: the orders queue in AWS. Deliveries are at least once; a message comes back after its
//! visibility timeout unless deleted, and SQS moves it to the dead-letter queue after the
//! redrive policy's `maxReceiveCount` receives.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};

use crate::ports::{Queue, QueueError, Received};

/// SQS allows ten messages per batch call.
const SQS_BATCH: usize = 10;

/// A queue (and its dead-letter queue) on SQS.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    dead_letter_url: Option<String>,
}

impl SqsQueue {
    /// The queue at `url`, with its dead-letter queue when known.
    pub fn new(client: Client, url: &str, dead_letter_url: Option<&str>) -> Self {
        Self {
            client,
            url: url.to_string(),
            dead_letter_url: dead_letter_url.map(str::to_string),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dead-letter queue's URL, when known.
    pub fn dead_letter_url(&self) -> Option<&str> {
        self.dead_letter_url.as_deref()
    }

    /// Creates `name` and `name-dlq` with a redrive policy of `max_receives` (local runs and
    /// tests; in AWS the template creates them).
    pub async fn create_with_dead_letters(
        client: Client,
        name: &str,
        max_receives: u32,
    ) -> Result<Self, QueueError> {
        let fail = |e: String| QueueError {
            queue: name.to_string(),
            message: e,
        };
        let dlq = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let dlq_url = dlq
            .queue_url
            .ok_or_else(|| fail("no dead-letter queue URL".into()))?;
        let attrs = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let arn = attrs
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| fail("no dead-letter queue ARN".into()))?;
        let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives.to_string()}).to_string();
        let main = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let url = main.queue_url.ok_or_else(|| fail("no queue URL".into()))?;
        Ok(Self::new(client, &url, Some(&dlq_url)))
    }

    /// The queue at `url` with the dead-letter queue its redrive policy names: what an
    /// operator's `mlc dead-letters --aws` needs, knowing only the stack's queue URL.
    pub async fn discover_dead_letters(client: Client, url: &str) -> Result<Self, QueueError> {
        let fail = |e: String| QueueError {
            queue: url.to_string(),
            message: e,
        };
        let attrs = client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let Some(policy) = attrs
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy).cloned())
        else {
            return Ok(Self::new(client, url, None));
        };
        let arn = serde_json::from_str::<serde_json::Value>(&policy)
            .ok()
            .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_string))
            .ok_or_else(|| {
                fail(format!(
                    "RedrivePolicy without deadLetterTargetArn: {policy}"
                ))
            })?;
        // arn:aws:sqs:{region}:{account}:{name}
        let mut parts = arn.rsplitn(2, ':');
        let name = parts.next().unwrap_or_default().to_string();
        let account = parts
            .next()
            .and_then(|rest| rest.rsplit(':').next())
            .map(str::to_string);
        let mut ask = client.get_queue_url().queue_name(&name);
        if let Some(account) = account {
            ask = ask.queue_owner_aws_account_id(account);
        }
        let dlq = ask
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?
            .queue_url
            .ok_or_else(|| fail(format!("no URL for dead-letter queue {name}")))?;
        Ok(Self::new(client, url, Some(&dlq)))
    }

    fn error(&self, e: impl std::fmt::Display) -> QueueError {
        QueueError {
            queue: self.url.clone(),
            message: e.to_string(),
        }
    }

    async fn receive_from(
        &self,
        url: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let mut out = Vec::new();
        // Bounded: each round returns something or ends the loop.
        for _ in 0..max.div_ceil(SQS_BATCH).max(1) * 2 {
            let want = (max - out.len()).min(SQS_BATCH) as i32;
            if want == 0 {
                break;
            }
            let answer = self
                .client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(want)
                .visibility_timeout(visibility.as_secs() as i32)
                .wait_time_seconds(0)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| self.error(DisplayErrorContext(e)))?;
            // With a zero visibility timeout the same message can come back in the next round.
            let messages: Vec<_> = answer
                .messages
                .unwrap_or_default()
                .into_iter()
                .filter(|m| {
                    !out.iter()
                        .any(|r: &Received| Some(&r.message_id) == m.message_id.as_ref())
                })
                .collect();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let attributes: BTreeMap<String, String> = m
                    .message_attributes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                    .collect();
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                out.push(Received {
                    handle: m.receipt_handle.unwrap_or_default(),
                    message_id: m.message_id.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    attributes,
                    receive_count,
                });
            }
        }
        Ok(out)
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("string attribute")
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError> {
        let mut req = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        for (k, v) in attributes {
            req = req.message_attributes(*k, attribute(v));
        }
        let answer = req
            .send()
            .await
            .map_err(|e| self.error(DisplayErrorContext(e)))?;
        Ok(answer.message_id.unwrap_or_default())
    }

    async fn send_batch(
        &self,
        messages: &[(String, Vec<(String, String)>)],
    ) -> Result<Vec<String>, QueueError> {
        let mut ids = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(SQS_BATCH) {
            let mut req = self.client.send_message_batch().queue_url(&self.url);
            for (i, (body, attributes)) in chunk.iter().enumerate() {
                let mut entry = SendMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .message_body(body);
                for (k, v) in attributes {
                    entry = entry.message_attributes(k, attribute(v));
                }
                req = req.entries(entry.build().map_err(|e| self.error(e))?);
            }
            let answer = req
                .send()
                .await
                .map_err(|e| self.error(DisplayErrorContext(e)))?;
            if !answer.failed.is_empty() {
                let reasons: Vec<String> = answer
                    .failed
                    .iter()
                    .map(|f| format!("{}: {}", f.id, f.message.as_deref().unwrap_or(&f.code)))
                    .collect();
                return Err(self.error(format!(
                    "{} of {} messages refused: {}",
                    reasons.len(),
                    chunk.len(),
                    reasons.join("; ")
                )));
            }
            let mut sent = answer.successful;
            sent.sort_by_key(|s| s.id[1..].parse::<usize>().unwrap_or(0));
            ids.extend(sent.into_iter().map(|s| s.message_id));
        }
        Ok(ids)
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        self.receive_from(&self.url.clone(), max, visibility).await
    }

    async fn delete(&self, handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(handle)
            .send()
            .await
            .map_err(|e| self.error(DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<Received>, QueueError> {
        match &self.dead_letter_url {
            // Visibility 0: looking at dead letters leaves them there, visible.
            Some(url) => self.receive_from(&url.clone(), max, Duration::ZERO).await,
            None => Ok(Vec::new()),
        }
    }

    async fn take_dead_letters(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        match &self.dead_letter_url {
            Some(url) => {
                self.receive_from(&url.clone(), max, visibility.max(Duration::from_secs(1)))
                    .await
            }
            None => Ok(Vec::new()),
        }
    }

    async fn delete_dead_letter(&self, handle: &str) -> Result<(), QueueError> {
        let Some(url) = &self.dead_letter_url else {
            return Ok(());
        };
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(handle)
            .send()
            .await
            .map_err(|e| self.error(DisplayErrorContext(e)))?;
        Ok(())
    }
}
