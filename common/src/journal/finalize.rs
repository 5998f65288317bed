//! The last step of every order-based builder: round, reconcile, map, check.

use rust_decimal::Decimal;

use super::{Journal, JournalContext, JournalError, JournalFlag, JournalLine, Side};
use crate::bigcommerce::{OrderBundle, OrderProduct};
use crate::config::MismatchPolicy;
use crate::mapping::{AccountRole, MappingContext, MappingError, ProductRef};
use crate::money::{Currency, Money, round_preserving_total};

/// Where a leg's segments come from when it answers an earlier line of the order: a refunded
/// line reverses what its sale line was credited to, a refund payment goes back through the
/// account the same tender was debited on.
pub(crate) struct Mirror {
    /// The line it answers (`line:65`, `shipping`, `fee:3`, `order`, `refund_due`…).
    pub reference: String,
    /// That line's role.
    pub role: AccountRole,
    /// Switch the natural account to the returns account, where the document names one.
    pub returns: bool,
}

/// One amount on its way into a journal, before rounding and mapping.
pub(crate) struct Leg<'b> {
    pub role: AccountRole,
    pub side: Side,
    /// Exact amount; a negative amount belongs on the other side.
    pub amount: Decimal,
    /// Money that changed hands (receivable, tenders, refund payments), as opposed to the
    /// components that explain it. The two must agree; that is the totals check.
    pub tender: bool,
    pub product: Option<&'b OrderProduct>,
    pub payment_provider: Option<&'b str>,
    pub mirror: Option<Mirror>,
    pub description: String,
    pub reference: String,
}

impl<'b> Leg<'b> {
    pub fn new(
        role: AccountRole,
        side: Side,
        amount: Decimal,
        description: impl Into<String>,
        reference: impl Into<String>,
    ) -> Self {
        Self {
            role,
            side,
            amount,
            tender: false,
            product: None,
            payment_provider: None,
            mirror: None,
            description: description.into(),
            reference: reference.into(),
        }
    }

    /// Marks the leg as money that changed hands.
    pub fn tender(mut self) -> Self {
        self.tender = true;
        self
    }

    /// Ties the leg to an order line, so product, SKU and category rules can map it.
    pub fn for_product(mut self, line: &'b OrderProduct) -> Self {
        self.product = Some(line);
        self
    }

    /// Names the payment provider the money went through (refund payments).
    pub fn via(mut self, provider: &'b str) -> Self {
        self.payment_provider = Some(provider);
        self
    }

    /// Takes the segments of the order's line `reference` of `role`: as booked, or as the
    /// mapping gives that line now when nothing is booked yet.
    pub fn mirror(mut self, reference: impl Into<String>, role: AccountRole) -> Self {
        self.mirror = Some(Mirror {
            reference: reference.into(),
            role,
            returns: false,
        });
        self
    }

    /// Mirrors a revenue line onto the returns account: the sale line's segments with the
    /// natural account switched, where the document names a returns account.
    pub fn returns_of(self, reference: impl Into<String>, role: AccountRole) -> Self {
        let mut leg = self.mirror(reference, role);
        if let Some(m) = &mut leg.mirror {
            m.returns = true;
        }
        leg
    }

    fn signed_toward(&self, side: Side) -> Decimal {
        if self.side == side {
            self.amount
        } else {
            -self.amount
        }
    }
}

/// Turns exact legs into the journal's lines.
///
/// Amounts are rounded per side so that the rounded lines add up to the rounded side total
/// (largest remainder), which keeps rounding drift to at most a minor unit per side. What is
/// left between the sides is BigCommerce's own inconsistency: within the rounding tolerance it
/// goes to the rounding account; beyond it, to suspense with a `totals_mismatch` flag, or the
/// build fails, as `posting.totals_mismatch` says. Nothing is absorbed silently, and the result
/// balances exactly or is an error.
pub(crate) fn finalize<'b>(
    ctx: &JournalContext<'_>,
    bundle: &'b OrderBundle,
    mut journal: Journal,
    legs: Vec<Leg<'b>>,
    tender_side: Side,
) -> Result<Journal, JournalError> {
    let currency = journal.currency;
    let mut legs = normalised(legs);
    // The exact totals, before rounding, for a mismatch's report.
    let tenders: Decimal = legs
        .iter()
        .filter(|l| l.tender)
        .map(|l| l.signed_toward(tender_side))
        .sum();
    let components: Decimal = legs
        .iter()
        .filter(|l| !l.tender)
        .map(|l| l.signed_toward(tender_side.opposite()))
        .sum();
    round_each_side(&mut legs, currency);
    let residue = side_total(&legs, Side::Dr) - side_total(&legs, Side::Cr);
    if !residue.is_zero() {
        let totals = Totals {
            tenders,
            components,
            tender_side,
        };
        legs.push(residue_leg(
            ctx,
            &mut journal,
            bundle.order.id,
            residue,
            totals,
        )?);
    }
    for leg in legs {
        if leg.amount.is_zero() {
            continue;
        }
        journal.lines.push(line_of(ctx, bundle, currency, leg)?);
    }
    ensure_balanced(&journal)?;
    Ok(journal)
}

/// The legs that carry money, each with a positive amount (a negative one changes side).
fn normalised(legs: Vec<Leg<'_>>) -> Vec<Leg<'_>> {
    legs.into_iter()
        .filter(|l| !l.amount.is_zero())
        .map(|mut l| {
            if l.amount < Decimal::ZERO {
                l.amount = -l.amount;
                l.side = l.side.opposite();
            }
            l
        })
        .collect()
}

/// Rounds each side's legs to the currency so that they add up to the side's rounded total.
fn round_each_side(legs: &mut [Leg<'_>], currency: Currency) {
    for side in [Side::Dr, Side::Cr] {
        let positions: Vec<usize> = (0..legs.len()).filter(|&i| legs[i].side == side).collect();
        let exact: Vec<Decimal> = positions.iter().map(|&i| legs[i].amount).collect();
        for (&i, rounded) in positions
            .iter()
            .zip(round_preserving_total(&exact, currency))
        {
            legs[i].amount = rounded;
        }
    }
}

fn side_total(legs: &[Leg<'_>], side: Side) -> Decimal {
    legs.iter()
        .filter(|l| l.side == side)
        .map(|l| l.amount)
        .sum()
}

/// What the tenders and the components add up to, exactly, toward their own sides.
#[derive(Clone, Copy)]
struct Totals {
    tenders: Decimal,
    components: Decimal,
    tender_side: Side,
}

/// The leg that takes what is left between the rounded sides (`residue`, debits less credits):
/// the rounding account within the tolerance; beyond it, suspense with the journal flagged, or
/// the totals mismatch error, as `posting.totals_mismatch` says.
fn residue_leg<'b>(
    ctx: &JournalContext<'_>,
    journal: &mut Journal,
    order: u64,
    residue: Decimal,
    totals: Totals,
) -> Result<Leg<'b>, JournalError> {
    let currency = journal.currency;
    let settings = &ctx.config.posting;
    let tolerance = currency.from_minor(i64::from(settings.rounding_tolerance));
    let side = if residue > Decimal::ZERO {
        Side::Cr
    } else {
        Side::Dr
    };
    let difference = if totals.tender_side == Side::Dr {
        residue
    } else {
        -residue
    };
    if residue.abs() <= tolerance {
        return Ok(Leg::new(
            AccountRole::Rounding,
            side,
            residue.abs(),
            "Rounding difference",
            "rounding",
        ));
    }
    let (tenders, components) = (totals.tenders, totals.components);
    match settings.totals_mismatch {
        MismatchPolicy::Hold => Err(JournalError::TotalsMismatch {
            order,
            posting: journal.posting,
            tenders: Money::new(currency.round(tenders), currency),
            components: Money::new(currency.round(components), currency),
            difference: Money::new(difference, currency),
            tolerance: Money::new(tolerance, currency),
        }),
        MismatchPolicy::Suspense => {
            journal.flags.push(JournalFlag::TotalsMismatch {
                tenders: currency.round(tenders),
                components: currency.round(components),
                difference,
            });
            Ok(Leg::new(
                AccountRole::Suspense,
                side,
                residue.abs(),
                format!(
                    "Totals mismatch: tenders {} vs components {}",
                    currency.format(tenders),
                    currency.format(components)
                ),
                "suspense",
            ))
        }
    }
}

/// One rounded leg as a journal line, on the segments [`place`] decides.
pub(crate) fn line_of(
    ctx: &JournalContext<'_>,
    bundle: &OrderBundle,
    currency: crate::money::Currency,
    leg: Leg<'_>,
) -> Result<JournalLine, JournalError> {
    let order = &bundle.order;
    let mapping_ctx = MappingContext {
        store: &ctx.store.id,
        channel: order.channel_id,
        currency,
        payment_method: &order.payment_method,
        payment_provider: leg.payment_provider.unwrap_or(bundle.payment_gateway()),
        product: leg.product.map(|p| ProductRef {
            product_id: p.product_id,
            sku: &p.sku,
            categories: bundle.categories_of(p.product_id),
            tree: &bundle.category_tree,
        }),
    };
    let placed = place(ctx, &leg, &mapping_ctx).map_err(|source| JournalError::Mapping {
        order: order.id,
        source,
    })?;
    let zero = currency.round(Decimal::ZERO);
    let (dr, cr) = match leg.side {
        Side::Dr => (leg.amount, zero),
        Side::Cr => (zero, leg.amount),
    };
    Ok(JournalLine {
        rule: placed.rule,
        segment_sources: placed.sources,
        segments: placed.segments,
        account_role: leg.role,
        dr,
        cr,
        description: leg.description,
        reference: leg.reference,
        tender: leg.tender,
    })
}

/// A leg's segments and what decided them.
struct Placed {
    segments: Vec<String>,
    sources: Vec<String>,
    rule: String,
}

/// Decides a leg's segments: a line already booked keeps its segments; a mirroring leg takes
/// the segments of the line it answers (booked, or mapped as that line would be now); anything
/// else is mapped. A returns leg then switches only the natural account. Order-level returns
/// with no returns account in the document reduce the order-level revenue account.
fn place(
    ctx: &JournalContext<'_>,
    leg: &Leg<'_>,
    mapping_ctx: &MappingContext<'_>,
) -> Result<Placed, MappingError> {
    let (reference, role) = match &leg.mirror {
        Some(m) => (m.reference.as_str(), m.role),
        None => (leg.reference.as_str(), leg.role),
    };
    let mut placed = match ctx.memory.and_then(|m| m.get(reference, role)) {
        Some(booked) => Placed {
            segments: booked.segments.clone(),
            sources: booked.sources.clone(),
            rule: if leg.mirror.is_some() {
                format!(
                    "as {} {reference} ({})",
                    booked.batch,
                    root_rule(&booked.rule)
                )
            } else {
                booked.rule.clone()
            },
        },
        None => {
            let resolved = match ctx.mapper.resolve(role, mapping_ctx) {
                Err(_) if role == AccountRole::Refund => {
                    ctx.mapper.resolve(AccountRole::Revenue, mapping_ctx)?
                }
                other => other?,
            };
            let explained = resolved.explain();
            Placed {
                sources: resolved.sources.iter().map(ToString::to_string).collect(),
                segments: resolved.segments,
                rule: if leg.mirror.is_some() && reference != leg.reference {
                    format!("as {reference} ({explained})")
                } else {
                    explained
                },
            }
        }
    };
    if leg.mirror.as_ref().is_some_and(|m| m.returns)
        && let Some((index, value, source)) = ctx.mapper.returns_account(mapping_ctx)
    {
        placed.segments[index] = value;
        placed.sources[index] = source.to_string();
        placed.rule = format!("{}; returns account: {source}", placed.rule);
    }
    Ok(placed)
}

/// What decided a line in the first place: a mirrored line's rule reads `as <batch> <line>
/// (<what decided that line>)`, and a mirror of it names the same root.
fn root_rule(rule: &str) -> &str {
    match rule.strip_prefix("as ") {
        Some(rest) => match (rest.find(" ("), rest.rfind(')')) {
            (Some(open), Some(close)) if open + 2 <= close => &rest[open + 2..close],
            _ => rule,
        },
        None => rule,
    }
}

/// The invariant every journal leaves the builders with.
pub(crate) fn ensure_balanced(journal: &Journal) -> Result<(), JournalError> {
    if journal.is_balanced() {
        return Ok(());
    }
    Err(JournalError::Unbalanced {
        order: journal.order_id,
        posting: journal.posting,
        debits: Money::new(journal.total_dr(), journal.currency),
        credits: Money::new(journal.total_cr(), journal.currency),
    })
}
