//! Order lives for the soak, drawn from its seed: placed, maybe edited, shipped and completed,
//! refunded in parts (to the card, some to store credit), cancelled. Only lives the connector
//! books by itself: a cancelled order is never set back (that waits for a person by design).

use std::time::Duration;

use rust_decimal::Decimal;
use sandbox::bigcommerce::{BigCommerceSandbox, RefundItemSpec, RefundSpec};
use sandbox::demo::{HASH, us_order};

use super::rng::Rng;

/// One change to an order after it is placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The order's lines are edited (before anything is refunded).
    Edit {
        /// Shirts now.
        shirts: u64,
        /// Skillets now.
        skillets: u64,
    },
    /// Status Shipped (2).
    Ship,
    /// Status Completed (10).
    Complete,
    /// One unit of a line still unrefunded goes back to the card.
    RefundUnit,
    /// Part of the shipping goes back, some of it as store credit.
    RefundShipping,
    /// Status Cancelled (5).
    Cancel,
}

/// One order's life.
#[derive(Debug, Clone)]
pub struct Life {
    /// Shirts placed.
    pub shirts: u64,
    /// Skillets placed.
    pub skillets: u64,
    /// What happens after, in order.
    pub steps: Vec<Step>,
    /// When it is placed, from the start of the run.
    pub placed_at: Duration,
    /// Gap before each step.
    pub gaps: Vec<Duration>,
}

/// `n` lives, placed `spacing` apart.
pub fn draw(seed: u64, n: usize, spacing: Duration) -> Vec<Life> {
    let mut rng = Rng::stream(seed, "lives");
    (0..n)
        .map(|i| {
            let mut shirts = rng.below(4);
            let mut skillets = rng.below(3);
            if shirts + skillets == 0 {
                shirts = 1;
            }
            let (placed_shirts, placed_skillets) = (shirts, skillets);
            let mut steps = Vec::new();
            if rng.chance(0.15) {
                shirts = 1 + rng.below(3);
                skillets = rng.below(3);
                steps.push(Step::Edit { shirts, skillets });
            }
            if rng.chance(0.5) {
                steps.push(Step::Ship);
                if rng.chance(0.5) {
                    steps.push(Step::Complete);
                }
            }
            let units = shirts + skillets;
            let refunds = match rng.below(10) {
                0..=5 => 0,
                6..=8 => 1,
                _ => 2,
            };
            for _ in 0..refunds.min(units) {
                steps.push(if rng.chance(0.75) {
                    Step::RefundUnit
                } else {
                    Step::RefundShipping
                });
            }
            // A cancellation only of what is not refunded in full already.
            let unit_refunds = steps.iter().filter(|s| **s == Step::RefundUnit).count() as u64;
            if unit_refunds < units && rng.chance(0.15) {
                steps.push(Step::Cancel);
            }
            let gaps = steps
                .iter()
                .map(|_| Duration::from_millis(100 + rng.below(1500)))
                .collect();
            Life {
                shirts: placed_shirts,
                skillets: placed_skillets,
                steps,
                placed_at: spacing * i as u32,
                gaps,
            }
        })
        .collect()
}

/// What the driver knows of an order it made.
#[derive(Debug, Clone, Default)]
pub struct Made {
    /// BigCommerce's order id.
    pub id: u64,
    /// Units not yet refunded, per order-product id.
    pub left: Vec<(u64, u64)>,
    /// Shipping refunds made (each 2.00 of the 5.00).
    pub shipping_refunds: u32,
    /// Cancelled.
    pub cancelled: bool,
}

/// Places an order of `life`.
pub fn place(sb: &BigCommerceSandbox, life: &Life) -> Made {
    let id = sb.create_order(HASH, us_order(life.shirts, life.skillets));
    let mut made = Made {
        id,
        ..Made::default()
    };
    made.left = lines_left(sb, id, life.shirts, life.skillets);
    made
}

fn lines_left(sb: &BigCommerceSandbox, id: u64, shirts: u64, skillets: u64) -> Vec<(u64, u64)> {
    // `us_order` lists shirts, then skillets; the store numbers lines in that order.
    let mut ids = sb.line_ids(HASH, id);
    ids.sort_unstable();
    let quantities = [shirts, skillets]
        .into_iter()
        .filter(|q| *q > 0)
        .collect::<Vec<_>>();
    ids.into_iter().zip(quantities).collect()
}

/// Applies one step to a placed order; `rng` picks what a refund takes.
pub fn apply(sb: &BigCommerceSandbox, made: &mut Made, step: &Step, rng: &mut Rng) {
    match step {
        Step::Edit { shirts, skillets } => {
            sb.edit_order(HASH, made.id, us_order(*shirts, *skillets));
            made.left = lines_left(sb, made.id, *shirts, *skillets);
        }
        Step::Ship => sb.set_status(HASH, made.id, 2),
        Step::Complete => sb.set_status(HASH, made.id, 10),
        Step::RefundUnit => {
            let open: Vec<usize> = (0..made.left.len())
                .filter(|i| made.left[*i].1 > 0)
                .collect();
            if open.is_empty() {
                return;
            }
            let pick = open[rng.below(open.len() as u64) as usize];
            made.left[pick].1 -= 1;
            sb.create_refund(
                HASH,
                made.id,
                RefundSpec {
                    items: vec![RefundItemSpec::Product {
                        line_id: made.left[pick].0,
                        quantity: 1,
                    }],
                    reason: "soak: one unit back".into(),
                    ..RefundSpec::default()
                },
            );
        }
        Step::RefundShipping => {
            if made.shipping_refunds >= 2 {
                return;
            }
            made.shipping_refunds += 1;
            sb.create_refund(
                HASH,
                made.id,
                RefundSpec {
                    items: vec![RefundItemSpec::Shipping {
                        amount: Decimal::new(200, 2),
                    }],
                    to_store_credit: Decimal::new(50, 2),
                    reason: "soak: shipping late".into(),
                    ..RefundSpec::default()
                },
            );
        }
        Step::Cancel => {
            made.cancelled = true;
            sb.set_status(HASH, made.id, 5);
        }
    }
}
