//! Fuzz targets on stable Rust: proptest strategies that throw hostile and careless input at the
//! parts of the connector that read what others write, and check that each one either refuses
//! it with a clear error or handles it correctly, and never panics.
//!
//! - [`webhook`]: webhook verification with the intake; any byte changed in a signed delivery
//!   is refused and nothing is queued;
//! - [`bundle`]: the order-bundle parser with the journal builders (and the Journal Import file
//!   of what they build);
//! - [`document`]: the connector-document parser;
//! - [`journal_import`]: the Journal Import writer, whose CSV must read back field for field.
//!
//! They are ordinary tests: `cargo test --workspace` (and so `./infra/test.sh`) runs each with
//! 64 cases, the smoke (about ten seconds for all nine in a debug build). For a long run, set the
//! number of cases per target:
//!
//! ```text
//! MLC_FUZZ_CASES=100000 cargo test --release -p common --test it fuzz:: -- --nocapture
//! ```
//!
//! Each run draws a fresh seed; a failure names it, and `MLC_FUZZ_SEED=<seed>` replays the same
//! cases (with at least as many cases as it took to fail). `--nocapture` shows what each target
//! saw (accepted, refused, built, by kind).

mod bundle;
mod document;
mod journal_import;
mod webhook;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseResult, TestError, TestRunner};
use serde_json::{Value, json};

/// Cases per target: `MLC_FUZZ_CASES`, else the smoke's.
pub fn cases() -> u32 {
    std::env::var("MLC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(64)
}

fn seed() -> u64 {
    if let Some(seed) = std::env::var("MLC_FUZZ_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return seed;
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// What a target saw, by outcome: counted while it runs, printed at the end.
#[derive(Default)]
pub struct Tally(Mutex<BTreeMap<String, u64>>);

impl Tally {
    /// One more of `what`.
    pub fn add(&self, what: impl Into<String>) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(what.into())
            .or_default() += 1;
    }

    fn summary(&self) -> String {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs `test` over `cases()` inputs of `strategy`. A panic inside `test` is a failure, like a
/// failed check; the smallest failing input proptest finds is reported with the seed.
pub fn run<S>(name: &str, strategy: S, test: impl Fn(S::Value, &Tally) -> TestCaseResult)
where
    S: Strategy,
    S::Value: Debug,
{
    let seed = seed();
    let cases = cases();
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    };
    let tally = Tally::default();
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| test(value, &tally));
    eprintln!(
        "fuzz {name}: {cases} cases in {:.1} s, seed {seed}: {}",
        started.elapsed().as_secs_f64(),
        tally.summary()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, value)) => panic!(
            "fuzz target {name} failed: {reason}\nreplay with MLC_FUZZ_SEED={seed} (and at least as many cases)\nsmallest failing input: {value:#?}"
        ),
        Err(TestError::Abort(reason)) => {
            panic!("fuzz target {name} aborted: {reason} (MLC_FUZZ_SEED={seed})")
        }
    }
}

/// Decimal texts at and past the edges of what an order may carry (10^15, the journal
/// builders' bound) and of the decimal type (96-bit mantissa, 28 places), and texts that are
/// not decimals at all.
pub const EXTREME_AMOUNTS: &[&str] = &[
    "999999999999999.9999",
    "1000000000000000",
    "-1000000000000000",
    "1000000000000000.0001",
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "79228162514264337593543950336",
    "7922816251426433759354395033.5",
    "39614081257132168796771975168",
    "9999999999999999999999999999",
    "0.0000000000000000000000000001",
    "-0.0000000000000000000000000001",
    "0.00000000000000000000000000001",
    "0.0001",
    "1e28",
    "-1e28",
    "1E-28",
    "1e29",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e400",
    "NaN",
    "inf",
    "-0",
    "0.00005",
    "12,50",
    "1 000",
    "0x10",
    "",
    " ",
];

/// An amount as BigCommerce sends one: a four-place string (now and then negative, zero, empty
/// or null), a whole number, a float.
pub fn amount() -> BoxedStrategy<Value> {
    prop_oneof![
        12 => (0i64..10_000_000_000).prop_map(|n| json!(rust_decimal::Decimal::new(n, 4).to_string())),
        1 => (-10_000_000_000i64..0).prop_map(|n| json!(rust_decimal::Decimal::new(n, 4).to_string())),
        2 => Just(json!("0.0000")),
        1 => Just(Value::Null),
        1 => Just(json!("")),
        1 => (0i64..1_000_000).prop_map(|n| json!(n)),
        1 => (0f64..1e6).prop_map(|f| json!((f * 100.0).round() / 100.0)),
    ]
    .boxed()
}

/// An amount the parser reads but no real order carries: the edges of [`EXTREME_AMOUNTS`]
/// that are decimals, any 64-bit number, any scale.
pub fn edge_amount() -> BoxedStrategy<Value> {
    let edges: Vec<&'static str> = EXTREME_AMOUNTS
        .iter()
        .copied()
        .filter(|s| common::money::parse_amount(s).is_ok())
        .collect();
    prop_oneof![
        4 => prop::sample::select(edges).prop_map(|s| json!(s)),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => (0u32..=28, any::<i64>()).prop_map(|(scale, n)| json!(rust_decimal::Decimal::new(n, scale).to_string())),
    ]
    .boxed()
}

/// An amount as something careless or hostile would send it: an edge, text that is no
/// number, a number past the decimal type, any JSON.
pub fn wild_amount() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => edge_amount(),
        2 => prop::sample::select(EXTREME_AMOUNTS).prop_map(|s| json!(s)),
        1 => any::<f64>().prop_map(|f| json!(f)),
        1 => "[-+0-9.eE ]{0,12}".prop_map(|s| json!(s)),
        1 => any_json(),
    ]
    .boxed()
}

/// Short text with what breaks CSV, JSON paths and logs: separators, quotes, line breaks,
/// control characters, non-ASCII.
pub fn nasty_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 _-]{0,16}",
        2 => "[ ,;\"'\n\r\t\\\\/.$\\[\\]{}a-zé€😀\u{0}\u{7f}\u{85}\u{2028}\u{202e}\u{feff}]{0,24}",
        1 => any::<String>(),
        1 => Just(String::new()),
        1 => ("[a-z]{1,4}", 100usize..400).prop_map(|(s, n)| s.repeat(n)),
    ]
    .boxed()
}

/// Any JSON value, small.
pub fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        amount(),
        prop::sample::select(EXTREME_AMOUNTS).prop_map(|s| json!(s)),
        nasty_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A change to a JSON document at one of its nodes (chosen by `at`).
#[derive(Debug, Clone)]
pub enum JsonEdit {
    /// The node becomes this value.
    Replace(prop::sample::Index, Value),
    /// The node is removed from its object or array.
    Remove(prop::sample::Index),
    /// An array node's element is repeated, or an object gains a key.
    Grow(prop::sample::Index, String, Value),
    /// A number becomes its text, a string holding a number becomes the number.
    Retype(prop::sample::Index),
    /// One of the amounts (a string holding a decimal) becomes this value.
    Amount(prop::sample::Index, Value),
}

/// A few edits, to be applied in order.
pub fn json_edits(max: usize) -> BoxedStrategy<Vec<JsonEdit>> {
    let edit = prop_oneof![
        4 => (any::<prop::sample::Index>(), any_json()).prop_map(|(i, v)| JsonEdit::Replace(i, v)),
        2 => any::<prop::sample::Index>().prop_map(JsonEdit::Remove),
        1 => (any::<prop::sample::Index>(), "[a-z_]{1,10}", any_json())
            .prop_map(|(i, k, v)| JsonEdit::Grow(i, k, v)),
        2 => any::<prop::sample::Index>().prop_map(JsonEdit::Retype),
        3 => (any::<prop::sample::Index>(), wild_amount()).prop_map(|(i, v)| JsonEdit::Amount(i, v)),
    ];
    prop::collection::vec(edit, 1..=max).boxed()
}

/// A few amounts changed to `values` (edges, or wild ones).
pub fn amount_edits(max: usize, values: BoxedStrategy<Value>) -> BoxedStrategy<Vec<JsonEdit>> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), values).prop_map(|(i, v)| JsonEdit::Amount(i, v)),
        1..=max,
    )
    .boxed()
}

/// An amount as BigCommerce writes most of them: a string holding a decimal (numbers are left
/// alone: most of them are ids).
fn is_amount(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.contains('.') && common::money::parse_amount(s).is_ok())
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    At(usize),
}

fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                here.push(Step::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(Step::At(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node<'v>(v: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::At(i) => &mut v[*i],
    })
}

fn node_ref<'v>(v: &'v Value, path: &[Step]) -> &'v Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &v[k.as_str()],
        Step::At(i) => &v[*i],
    })
}

/// Applies `edits` to `doc`.
pub fn apply_edits(doc: &mut Value, edits: &[JsonEdit]) {
    for edit in edits {
        let mut all = Vec::new();
        paths(doc, &mut Vec::new(), &mut all);
        let pick = |i: &prop::sample::Index| all[i.index(all.len())].clone();
        match edit {
            JsonEdit::Replace(i, value) => *node(doc, &pick(i)) = value.clone(),
            JsonEdit::Remove(i) => {
                let path = pick(i);
                if let Some((last, parent)) = path.split_last() {
                    match (node(doc, parent), last) {
                        (Value::Object(m), Step::Key(k)) => {
                            m.remove(k);
                        }
                        (Value::Array(a), Step::At(i)) => {
                            a.remove(*i);
                        }
                        _ => {}
                    }
                }
            }
            JsonEdit::Grow(i, key, value) => match node(doc, &pick(i)) {
                Value::Array(a) if !a.is_empty() => {
                    let first = a[0].clone();
                    a.push(first);
                }
                Value::Array(a) => a.push(value.clone()),
                Value::Object(m) => {
                    m.insert(key.clone(), value.clone());
                }
                other => *other = json!([other.clone(), value.clone()]),
            },
            JsonEdit::Amount(i, value) => {
                let amounts: Vec<&Vec<Step>> =
                    all.iter().filter(|p| is_amount(node_ref(doc, p))).collect();
                if !amounts.is_empty() {
                    let path = amounts[i.index(amounts.len())].clone();
                    *node(doc, &path) = value.clone();
                }
            }
            JsonEdit::Retype(i) => {
                let n = node(doc, &pick(i));
                *n = match n.take() {
                    Value::Number(x) => Value::String(x.to_string()),
                    Value::String(s) => match serde_json::from_str::<Value>(&s) {
                        Ok(v @ Value::Number(_)) => v,
                        _ => Value::String(s),
                    },
                    Value::Bool(b) => Value::String(b.to_string()),
                    Value::Null => Value::String(String::new()),
                    other => other,
                };
            }
        }
    }
}

/// A change to raw bytes, at a position chosen by `at`.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    /// The byte is XORed with a non-zero value (so it changes).
    Flip(prop::sample::Index, u8),
    /// A byte is inserted.
    Insert(prop::sample::Index, u8),
    /// Up to `n` bytes are removed.
    Delete(prop::sample::Index, usize),
    /// Up to `n` bytes are repeated in place.
    Repeat(prop::sample::Index, usize),
    /// A byte from the JSON alphabet replaces the one there.
    Punct(prop::sample::Index, u8),
}

/// A few byte edits.
pub fn byte_edits(max: usize) -> BoxedStrategy<Vec<ByteEdit>> {
    let punct = prop::sample::select(b"{}[]\":,-.0123456789eEtfn \\u\n".to_vec());
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, x)| ByteEdit::Flip(i, x)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| ByteEdit::Delete(i, n)),
        (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| ByteEdit::Repeat(i, n)),
        (any::<prop::sample::Index>(), punct).prop_map(|(i, b)| ByteEdit::Punct(i, b)),
    ];
    prop::collection::vec(edit, 1..=max).boxed()
}

/// Applies `edits` to `bytes`.
pub fn apply_byte_edits(bytes: &mut Vec<u8>, edits: &[ByteEdit]) {
    for edit in edits {
        if bytes.is_empty() {
            bytes.push(b'{');
        }
        let len = bytes.len();
        match edit {
            ByteEdit::Flip(i, x) => bytes[i.index(len)] ^= x,
            ByteEdit::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            ByteEdit::Delete(i, n) => {
                let at = i.index(len);
                bytes.drain(at..(at + n).min(len));
            }
            ByteEdit::Repeat(i, n) => {
                let at = i.index(len);
                let part: Vec<u8> = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, part);
            }
            ByteEdit::Punct(i, b) => bytes[i.index(len)] = *b,
        }
    }
}
