//! Dead letters: orders the poster could not read after the queue's receive limit (a token
//! BigCommerce refused, a store the document lost, BigCommerce down for longer than the
//! retries). They wait in the dead-letter queue until someone fixes the cause; then they are
//! listed, so it is clear which orders wait, and moved back to the queue, where the poster
//! takes them like any other message. Nothing is posted twice: the poster decides each order
//! against what is recorded for it.
//!
//! Moving is send-then-delete: a failure in between leaves a copy in each queue, which the
//! decision makes harmless; the other order would lose the message.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ports::{Queue, QueueError};
use crate::posting::message::{KIND_ORDER, OrderMessage};

/// How long dead letters being moved stay hidden from another operator's move.
const MOVE_VISIBILITY: std::time::Duration = std::time::Duration::from_secs(60);

/// One dead letter, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The queue's message id.
    pub message_id: String,
    /// How often the poster received it before it was put aside.
    pub receive_count: u32,
    /// The order message, when the body is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderMessage>,
    /// Why the body is not an order message, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// What a move did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Redriven {
    /// Sent back to the queue (and gone from the dead letters).
    pub moved: Vec<DeadLetter>,
    /// Left in the dead letters: not order messages, which would only fail again.
    pub left: Vec<DeadLetter>,
    /// Could not be moved now (they stay dead letters): message id and why.
    pub failed: Vec<(String, String)>,
}

fn read(received: &crate::ports::Received) -> DeadLetter {
    let (order, unreadable) = match OrderMessage::parse(&received.body) {
        Ok(m) => (Some(m), None),
        Err(e) => (None, Some(e)),
    };
    DeadLetter {
        message_id: received.message_id.clone(),
        receive_count: received.receive_count,
        order,
        unreadable,
    }
}

/// Up to `max` dead letters, left where they are.
pub async fn list(queue: &dyn Queue, max: usize) -> Result<Vec<DeadLetter>, QueueError> {
    Ok(queue.dead_letters(max).await?.iter().map(read).collect())
}

/// Moves up to `max` dead letters back to the queue. Each goes back with its reason marked
/// `(redriven by {by} at {now})`, so the order's audit trail (the poster's `fetched` event)
/// says how it came back.
pub async fn redrive(
    queue: &dyn Queue,
    max: usize,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Redriven, QueueError> {
    let mut done = Redriven::default();
    while done.moved.len() + done.left.len() + done.failed.len() < max {
        let want = max - done.moved.len() - done.left.len() - done.failed.len();
        let taken = queue.take_dead_letters(want, MOVE_VISIBILITY).await?;
        if taken.is_empty() {
            break;
        }
        for received in taken {
            let letter = read(&received);
            let Some(order) = &letter.order else {
                done.left.push(letter);
                continue;
            };
            let mut again = order.clone();
            again.reason = format!(
                "{} (redriven by {by} at {})",
                order.reason,
                now.format("%Y-%m-%dT%H:%M:%SZ")
            );
            if let Err(e) = queue.send(&again.to_body(), &[("kind", KIND_ORDER)]).await {
                done.failed.push((letter.message_id, e.to_string()));
                continue;
            }
            match queue.delete_dead_letter(&received.handle).await {
                Ok(()) => done.moved.push(letter),
                // Sent, but still a dead letter: a second move would queue it again, which the
                // poster's decision makes harmless. Said, not hidden.
                Err(e) => done.failed.push((
                    letter.message_id,
                    format!("queued again, but not removed from the dead letters: {e}"),
                )),
            }
        }
    }
    Ok(done)
}
