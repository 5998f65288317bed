//! What the pipeline services work with: the connector document, the ports, and their
//! settings, built once per process (per Lambda container) and rebuilt only when the document
//! changes, so token and catalog caches survive between invocations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use crate::bigcommerce::{BcError, BigCommerceClient, ClientSettings};
use crate::config::{ConnectorConfig, StoreConfig};
use crate::oracle::{FusionClient, FusionSettings, OracleError};
use crate::ports::{BigCommerceApi, Clock, OracleApi, Ports, Queue, SourceError, StateStore};
use crate::posting::dispatch::SubmitSettings;
use crate::posting::group_ids::{GroupIds, StoreGroupIds};

/// Timings and limits of the pipeline (not in the connector document: they belong to the
/// deployment, not to the books).
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Job polling and the import timeout (from the document's posting settings).
    pub submit: SubmitSettings,
    /// How far back each sweep re-reads before its cursor (late commits, clock skew, and the
    /// minute a new hook takes to start).
    pub overlap: Duration,
    /// How far back the first sweep of a store looks (history is `mlc backfill`'s job).
    pub first_lookback: Duration,
    /// A posting still Queued after this long is queued again (its message was lost or
    /// exhausted).
    pub requeue_after: Duration,
    /// Orders fetched and decided at once by the poster.
    pub concurrency: usize,
    /// Where BigCommerce must deliver webhooks; the poller keeps the hooks pointed here.
    pub webhook_url: Option<String>,
}

impl PipelineSettings {
    /// Defaults for the document's posting settings.
    pub fn for_config(config: &ConnectorConfig) -> Self {
        Self {
            submit: SubmitSettings::from_posting(&config.posting),
            overlap: Duration::from_secs(5 * 60),
            first_lookback: Duration::from_secs(60 * 60),
            requeue_after: Duration::from_secs(15 * 60),
            concurrency: 8,
            webhook_url: None,
        }
    }
}

/// Why the services could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The connector document could not be had.
    #[error("connector document: {0}")]
    Source(#[from] SourceError),
    /// A BigCommerce client could not be made (bad URL, unreadable token).
    #[error("{0}")]
    BigCommerce(#[from] BcError),
    /// The Oracle client could not be made.
    #[error("oracle: {0}")]
    Oracle(#[from] OracleError),
}

/// The ports and the document, for the services of one process.
pub struct Services {
    /// The connector document.
    pub config: Arc<ConnectorConfig>,
    /// Posting state and audit.
    pub store: Arc<dyn StateStore>,
    /// The orders queue.
    pub queue: Arc<dyn Queue>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Oracle Fusion.
    pub oracle: Arc<dyn OracleApi>,
    /// GROUP_IDs.
    pub group_ids: Arc<dyn GroupIds>,
    /// Settings.
    pub settings: PipelineSettings,
    bigcommerce: BTreeMap<String, Arc<dyn BigCommerceApi>>,
}

impl Services {
    /// Services over the given clients (tests, the sandbox demo).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Arc<ConnectorConfig>,
        store: Arc<dyn StateStore>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        oracle: Arc<dyn OracleApi>,
        group_ids: Arc<dyn GroupIds>,
        bigcommerce: BTreeMap<String, Arc<dyn BigCommerceApi>>,
        settings: PipelineSettings,
    ) -> Self {
        Self {
            config,
            store,
            queue,
            clock,
            oracle,
            group_ids,
            settings,
            bigcommerce,
        }
    }

    /// Services with real clients for the document's stores and pod. No network call is made
    /// here; GROUP_IDs come from the state store's shared sequence.
    pub fn connect(
        config: Arc<ConnectorConfig>,
        store: Arc<dyn StateStore>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: PipelineSettings,
        bigcommerce: ClientSettings,
        fusion: FusionSettings,
    ) -> Result<Self, SetupError> {
        let mut clients: BTreeMap<String, Arc<dyn BigCommerceApi>> = BTreeMap::new();
        for entry in &config.stores {
            // Entries of one store (one per channel) share its API account.
            if !clients.contains_key(&entry.store_hash) {
                let client = BigCommerceClient::for_store(entry, bigcommerce.clone())?;
                clients.insert(entry.store_hash.clone(), Arc::new(client));
            }
        }
        let oracle = Arc::new(FusionClient::from_config(&config.oracle, fusion)?);
        let group_ids = Arc::new(StoreGroupIds::new(store.clone()));
        Ok(Self::new(
            config, store, queue, clock, oracle, group_ids, clients, settings,
        ))
    }

    /// The client of a store hash.
    pub fn bigcommerce(&self, store_hash: &str) -> Option<&Arc<dyn BigCommerceApi>> {
        self.bigcommerce.get(store_hash)
    }

    /// Store hashes, one per BigCommerce store.
    pub fn store_hashes(&self) -> Vec<String> {
        self.bigcommerce.keys().cloned().collect()
    }

    /// BigCommerce requests sent so far by this process.
    pub fn bigcommerce_calls(&self) -> u64 {
        self.bigcommerce.values().map(|c| c.calls()).sum()
    }

    /// The store entry with this id.
    pub fn store_entry(&self, id: &str) -> Option<&StoreConfig> {
        self.config.store(id)
    }
}

/// Builds [`Services`] from a secret source and keeps them while the document is unchanged
/// (Lambda containers serve many invocations; the document is re-read after its cache TTL).
pub struct ServicesCache {
    ports: Ports,
    tune: Box<dyn Fn(&ConnectorConfig) -> PipelineSettings + Send + Sync>,
    bigcommerce: ClientSettings,
    fusion: FusionSettings,
    current: Mutex<Option<(Arc<ConnectorConfig>, Arc<Services>)>>,
}

impl ServicesCache {
    /// A cache over these ports; `tune` makes the pipeline settings for a document.
    pub fn new(
        ports: Ports,
        tune: impl Fn(&ConnectorConfig) -> PipelineSettings + Send + Sync + 'static,
    ) -> Self {
        Self {
            ports,
            tune: Box::new(tune),
            bigcommerce: ClientSettings::default(),
            fusion: FusionSettings::default(),
            current: Mutex::new(None),
        }
    }

    /// Uses these client settings (tests shorten the retry waits).
    pub fn with_client_settings(
        mut self,
        bigcommerce: ClientSettings,
        fusion: FusionSettings,
    ) -> Self {
        self.bigcommerce = bigcommerce;
        self.fusion = fusion;
        self
    }

    /// The services for the current document.
    pub async fn services(&self) -> Result<Arc<Services>, SetupError> {
        let config = self.ports.source.connector_document().await?;
        let mut current = self.current.lock().await;
        if let Some((seen, services)) = current.as_ref()
            && Arc::ptr_eq(seen, &config)
        {
            return Ok(services.clone());
        }
        let settings = (self.tune)(&config);
        let services = Arc::new(Services::connect(
            config.clone(),
            self.ports.store.clone(),
            self.ports.queue.clone(),
            self.ports.clock.clone(),
            settings,
            self.bigcommerce.clone(),
            self.fusion.clone(),
        )?);
        *current = Some((config, services.clone()));
        Ok(services)
    }
}
