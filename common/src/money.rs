//! Money for a ledger: exact decimals and the currency's minor units.
//!
//! BigCommerce sends V2 amounts as decimal strings with four places and V3 refund amounts as
//! JSON numbers; Oracle wants amounts in the currency's minor units (JPY 0, USD 2, KWD 3). Every
//! amount in this crate is a [`Decimal`]; nothing passes through a float, and rounding happens
//! once, when a journal is finalised, with the helpers here.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Why an amount or a currency could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a decimal number.
    #[error("\"{0}\" is not a decimal amount (expected digits such as \"12.50\")")]
    NotADecimal(String),
    /// The code is not three ASCII letters.
    #[error("\"{0}\" is not an ISO 4217 currency code (expected three letters such as \"USD\")")]
    BadCurrency(String),
    /// Three letters, but no currency ISO 4217 lists (a typo, a crypto ticker, a made-up
    /// code): its minor unit is unknown, so nothing in it can be rounded, converted or posted.
    #[error(
        "\"{0}\" is not an ISO 4217 currency code: no active currency has it (a typo, or a code the ledger cannot take)"
    )]
    NotIso4217(String),
    /// Two amounts of different currencies were combined.
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(String, String),
}

/// The active ISO 4217 alphabetic codes (list one, as of 2025: national currencies, funds
/// codes such as `CLF` and `USN`, precious metals and the `X` units; `XTS`, the testing code,
/// and `XXX`, "no currency", are left out because nothing can be posted in them). A code not
/// here is refused rather than guessed at: a ledger cannot take it, and its minor unit is
/// unknown.
pub const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE",
    "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
    "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON",
    "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV",
    "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD",
    "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG",
];

/// ISO 4217 currencies whose minor unit is not two digits. Every other code of [`ISO_4217`]
/// has two, which is what ISO assigns to the great majority of codes.
const EXPONENTS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// A currency: its ISO 4217 code and the number of digits of its minor unit.
///
/// Carrying the exponent with the code means no caller can round a yen amount to cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u32,
}

impl Currency {
    /// Reads a three-letter code (any case) that ISO 4217 lists, and looks up its minor unit.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let trimmed = code.trim();
        let bytes = trimmed.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::BadCurrency(code.to_string()));
        }
        let upper = [
            bytes[0].to_ascii_uppercase(),
            bytes[1].to_ascii_uppercase(),
            bytes[2].to_ascii_uppercase(),
        ];
        let text = std::str::from_utf8(&upper).expect("ASCII letters");
        if !ISO_4217.contains(&text) {
            return Err(MoneyError::NotIso4217(trimmed.to_string()));
        }
        let exponent = EXPONENTS
            .iter()
            .find(|(c, _)| *c == text)
            .map_or(2, |(_, e)| *e);
        Ok(Self {
            code: upper,
            exponent,
        })
    }

    /// The upper-case ISO code, e.g. `"USD"`.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("constructed from ASCII letters")
    }

    /// Digits after the decimal point in this currency's minor unit.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    /// One minor unit (0.01 for USD, 1 for JPY, 0.001 for KWD).
    pub fn minor_unit(&self) -> Decimal {
        Decimal::new(1, self.exponent)
    }

    /// Rounds half away from zero to the minor unit, the usual commercial rule, and fixes the
    /// scale so that `12.5` USD prints as `12.50`.
    pub fn round(&self, amount: Decimal) -> Decimal {
        let mut rounded =
            amount.round_dp_with_strategy(self.exponent, RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(self.exponent);
        rounded
    }

    /// An amount of `n` minor units.
    pub fn from_minor(&self, n: i64) -> Decimal {
        Decimal::new(n, self.exponent)
    }

    /// Whole minor units in an amount already rounded to this currency.
    pub fn to_minor(&self, amount: Decimal) -> i64 {
        // After `round` the scale is the exponent, so the mantissa counts minor units.
        i64::try_from(self.round(amount).mantissa()).expect("amount fits in i64 minor units")
    }

    /// Formats with exactly the minor-unit digits (`"0.00"`, `"1250"`, `"1.500"`).
    pub fn format(&self, amount: Decimal) -> String {
        self.round(amount).to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Currency::parse(&text).map_err(de::Error::custom)
    }
}

/// An amount together with its currency, for messages and flags that people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// The exact amount (not necessarily rounded).
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// Pairs an amount with its currency.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Adds two amounts of the same currency; mixing currencies is an error, never a conversion.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(
                self.currency.to_string(),
                other.currency.to_string(),
            ));
        }
        Ok(Money::new(self.amount + other.amount, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Show the exact value when it is finer than the minor unit, so a 0.0001 residue is
        // not printed as 0.00.
        let rounded = self.currency.round(self.amount);
        if rounded == self.amount {
            write!(f, "{} {}", self.currency, rounded)
        } else {
            write!(f, "{} {}", self.currency, self.amount.normalize())
        }
    }
}

/// Reads a decimal amount from text as BigCommerce writes it. An empty string is zero, since
/// V2 sends `""` for amounts that do not apply.
pub fn parse_amount(text: &str) -> Result<Decimal, MoneyError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Decimal::ZERO);
    }
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| MoneyError::NotADecimal(text.to_string()))
}

/// Converts a JSON float to a decimal through its shortest round-trip text, so `9.99` becomes
/// exactly `9.99` and not the binary value nearest to it.
pub fn decimal_from_f64(value: f64) -> Result<Decimal, MoneyError> {
    if !value.is_finite() {
        return Err(MoneyError::NotADecimal(value.to_string()));
    }
    parse_amount(&value.to_string())
}

/// Rounds every amount to the currency so that the rounded amounts add up to the rounded total
/// (largest-remainder method). Rounding each line on its own lets a hundred half-cents drift
/// into a rounding line; this keeps the drift to at most one minor unit per journal side.
pub fn round_preserving_total(amounts: &[Decimal], currency: Currency) -> Vec<Decimal> {
    let target = currency.round(amounts.iter().copied().sum());
    let mut rounded: Vec<Decimal> = amounts.iter().map(|a| currency.round(*a)).collect();
    let unit = currency.minor_unit();
    let shortfall = target - rounded.iter().copied().sum::<Decimal>();
    let steps = currency.to_minor(shortfall);
    if steps == 0 {
        return rounded;
    }
    // Remainder = exact − rounded: positive where rounding took something away.
    let mut order: Vec<usize> = (0..amounts.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = amounts[a] - rounded[a];
        let rb = amounts[b] - rounded[b];
        if steps > 0 {
            rb.cmp(&ra).then(a.cmp(&b))
        } else {
            ra.cmp(&rb).then(a.cmp(&b))
        }
    });
    let step = if steps > 0 { unit } else { -unit };
    for &i in order.iter().cycle().take(steps.unsigned_abs() as usize) {
        rounded[i] += step;
    }
    rounded
}

/// Splits `total` over `weights` in proportion, exactly: the shares are unrounded and the last
/// non-zero weight takes what division leaves, so the shares always add up to `total`.
/// With no positive weight everything goes to the first position (or nowhere, if empty).
pub fn split_pro_rata(total: Decimal, weights: &[Decimal]) -> Vec<Decimal> {
    let mut shares = vec![Decimal::ZERO; weights.len()];
    let sum: Decimal = weights.iter().copied().filter(|w| *w > Decimal::ZERO).sum();
    if weights.is_empty() {
        return shares;
    }
    if sum.is_zero() {
        shares[0] = total;
        return shares;
    }
    let last = weights
        .iter()
        .rposition(|w| *w > Decimal::ZERO)
        .expect("sum is positive");
    let mut given = Decimal::ZERO;
    for (i, w) in weights.iter().enumerate() {
        if *w <= Decimal::ZERO {
            continue;
        }
        if i == last {
            shares[i] = total - given;
        } else {
            // As the operators compute it when the product fits; otherwise by the weight's
            // fraction of the sum, which is at most one, so it cannot overflow either.
            let share = total
                .checked_mul(*w)
                .map_or_else(|| total * (*w / sum), |p| p / sum);
            shares[i] = share;
            given += share;
        }
    }
    shares
}

/// Serde helpers for amounts that arrive as strings, numbers or null.
pub mod amount_serde {
    use super::*;

    struct AmountVisitor;

    impl<'de> Visitor<'de> for AmountVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a decimal amount as a string or a number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            parse_amount(v).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            decimal_from_f64(v).map_err(E::custom)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Decimal, E> {
            Ok(Decimal::ZERO)
        }
        fn visit_none<E: de::Error>(self) -> Result<Decimal, E> {
            Ok(Decimal::ZERO)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Decimal, D::Error> {
            d.deserialize_any(AmountVisitor)
        }
    }

    /// Deserializes a required-or-defaulted amount; null and `""` read as zero.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(AmountVisitor)
    }

    /// Deserializes an amount where null means "not given" (refund `requested_amount`).
    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        struct OptVisitor;
        impl<'de> Visitor<'de> for OptVisitor {
            type Value = Option<Decimal>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal amount or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(AmountVisitor).map(Some)
            }
        }
        d.deserialize_option(OptVisitor)
    }

    /// Writes an amount as a decimal string, which is how it is stored and shown everywhere.
    pub fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_code_list_is_sorted_unique_and_covers_every_exponent() {
        assert!(
            ISO_4217.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats"
        );
        for (code, _) in EXPONENTS {
            assert!(ISO_4217.contains(code), "{code}");
        }
        assert_eq!(
            Currency::parse("XBT").unwrap_err(),
            MoneyError::NotIso4217("XBT".into())
        );
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(Currency::parse("usd").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("BHD").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("EUR").unwrap().code(), "EUR");
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
    }

    #[test]
    fn rounds_half_away_from_zero_at_the_minor_unit() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.format(dec!(62.6793)), "62.68");
        assert_eq!(usd.format(dec!(0.005)), "0.01");
        assert_eq!(usd.format(dec!(-0.005)), "-0.01");
        assert_eq!(usd.format(dec!(3)), "3.00");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.format(dec!(1250.5)), "1251");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.format(dec!(1.2345)), "1.235");
        assert_eq!(kwd.to_minor(dec!(1.2345)), 1235);
        assert_eq!(usd.to_minor(dec!(-17.26)), -1726);
    }

    #[test]
    fn parses_bigcommerce_amounts_exactly() {
        assert_eq!(parse_amount("62.6793").unwrap(), dec!(62.6793));
        assert_eq!(parse_amount("0").unwrap(), Decimal::ZERO);
        assert_eq!(parse_amount("").unwrap(), Decimal::ZERO);
        assert_eq!(decimal_from_f64(9.99).unwrap(), dec!(9.99));
        assert_eq!(decimal_from_f64(-10.2).unwrap(), dec!(-10.2));
        assert!(parse_amount("12,50").is_err());
    }

    #[test]
    fn rounded_parts_add_up_to_the_rounded_whole() {
        let usd = Currency::parse("USD").unwrap();
        let parts = vec![dec!(0.005); 7];
        let rounded = round_preserving_total(&parts, usd);
        assert_eq!(rounded.iter().copied().sum::<Decimal>(), dec!(0.04));
        let parts = [dec!(10.004), dec!(10.004), dec!(10.004)];
        let rounded = round_preserving_total(&parts, usd);
        assert_eq!(rounded.iter().copied().sum::<Decimal>(), dec!(30.01));
        assert_eq!(rounded, vec![dec!(10.01), dec!(10.00), dec!(10.00)]);
    }

    #[test]
    fn pro_rata_split_is_exact() {
        let shares = split_pro_rata(dec!(10), &[dec!(1), dec!(1), dec!(1)]);
        assert_eq!(shares.iter().copied().sum::<Decimal>(), dec!(10));
        let shares = split_pro_rata(dec!(5), &[dec!(0), dec!(0)]);
        assert_eq!(shares, vec![dec!(5), dec!(0)]);
        let shares = split_pro_rata(dec!(6), &[dec!(2), dec!(0), dec!(4)]);
        assert_eq!(shares, vec![dec!(2), dec!(0), dec!(4)]);
    }
}
