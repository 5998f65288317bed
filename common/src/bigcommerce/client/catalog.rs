//! Product categories, cached across orders: most orders repeat products, so after the first
//! few (or after one read of a small catalog) mapping an order costs no catalog call.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::bigcommerce::api::CatalogProduct;

pub(super) struct CatalogCache {
    known: HashMap<u64, Vec<u64>>,
    since: Instant,
    ttl: Duration,
    warm_attempted: bool,
}

impl CatalogCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            known: HashMap::new(),
            since: Instant::now(),
            ttl,
            warm_attempted: false,
        }
    }

    fn expire(&mut self) {
        if self.since.elapsed() >= self.ttl {
            self.known.clear();
            self.since = Instant::now();
            self.warm_attempted = false;
        }
    }

    /// Ids not in the cache, each once.
    pub fn missing(&mut self, ids: &[u64]) -> Vec<u64> {
        self.expire();
        let mut out: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| !self.known.contains_key(id))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether to try reading the whole catalog now (once per cache lifetime).
    pub fn take_warm_attempt(&mut self) -> bool {
        !std::mem::replace(&mut self.warm_attempted, true)
    }

    pub fn insert_all(&mut self, products: Vec<CatalogProduct>) {
        for p in products {
            self.known.insert(p.id, p.categories);
        }
    }

    /// Products asked for but not returned no longer exist: remember them as uncategorised so
    /// they are not asked for again.
    pub fn insert_batch(&mut self, asked: &[u64], found: Vec<CatalogProduct>) {
        for id in asked {
            self.known.entry(*id).or_default();
        }
        self.insert_all(found);
    }

    pub fn lookup(&self, ids: &[u64]) -> BTreeMap<u64, Vec<u64>> {
        ids.iter()
            .map(|id| (*id, self.known.get(id).cloned().unwrap_or_default()))
            .collect()
    }
}
