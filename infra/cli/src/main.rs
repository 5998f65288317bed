//! `mlc`: ml-connector on the command line. Parses arguments, reads files, calls `common`, and
//! writes what it gets back; nothing here decides anything about accounting.
//!
//! Exit codes: 0 done; 1 the work could not be done (an order held for a totals mismatch, a
//! BigCommerce call that failed) or it needs action (`reconcile`'s findings, `postings`' held
//! ones); 2 bad input (arguments, connector document, order file, a posting that does not
//! exist). The class comes from the library's error types (`common::exit`), and `main` is the
//! one place it becomes a code. Reports print for people (`--format text`) or as one JSON
//! document on standard output (`--format json`).

mod audit;
mod catalog;
mod config_cmd;
mod csv;
mod dead_letters;
#[cfg(feature = "demo")]
mod demo;
mod failure;
mod local;
mod ping;
mod postings;
mod progress;
mod reconcile;
mod report_html;
mod state_args;
mod trail;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand, ValueEnum};
use common::bigcommerce::api::RefundPolicy;
use common::bigcommerce::{BigCommerceClient, ClientSettings, OrderBundle};
use common::config::ConnectorConfig;
use common::oracle::fbdi;
use common::posting::preview::{self, Preview};
use failure::{Failure, bad};

#[derive(Parser)]
#[command(
    name = "mlc",
    version,
    about = "ml-connector: BigCommerce orders into Oracle Fusion GL journals, exactly once"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline once on this machine against the sandbox BigCommerce store and
    /// Oracle pod, with the example document: orders, webhooks, journals, refund, cancellation,
    /// edit; prints what Oracle holds and an order's audit trail.
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    /// Run the pipeline as one local process on SQLite: a webhook endpoint, the poster on the
    /// local queue, the poller on an interval. Stops on Ctrl-C.
    Serve(local::ServeArgs),
    /// An order's audit trail, from a local state database or the deployed table (--aws).
    Audit(audit::AuditArgs),
    /// The postings waiting on a person (held, rejected) or on their way (queued, submitted),
    /// oldest first, with why and for how long: the morning queue, from a local state
    /// database or the deployed table (--aws).
    ///
    /// Exit code 1 when any listed posting is held or rejected (it needs action: fix the
    /// cause, then `mlc replay`), 0 when none is (an empty queue, or only postings on their
    /// way), so a script or a scheduled check can gate on it.
    Postings(postings::PostingsArgs),
    /// Send a Held or Rejected posting again once its cause is fixed or a person has confirmed
    /// it: a sale, refund or reinstatement journal is built again from the order and the
    /// document as they are now.
    Replay(ReplayArgs),
    /// Check every system the document names: reachable, with the rights the connector needs,
    /// and as the document says (ledgers, channels, webhooks, today's period). Read-only.
    Ping(ping::PingArgs),
    /// Where each category's revenue goes (account and deciding rule), categories no rule
    /// covers, and rules naming categories, channels or products the store no longer has.
    Catalog(catalog::CatalogArgs),
    /// Reconcile a period: every order created in it, fetched from BigCommerce, against what
    /// the connector recorded and what Oracle holds. Exit code 1 when something needs action.
    Reconcile(ReconcileArgs),
    /// List the orders waiting in the dead-letter queue, or move them back to the queue once
    /// their cause is fixed (--redrive).
    DeadLetters(dead_letters::DeadLetterArgs),
    /// Show the journals an order would produce; sends nothing anywhere.
    Preview(PreviewArgs),
    /// Fetch an order bundle from BigCommerce (the file `preview --order-file` reads): to
    /// preview a real order, keep a test fixture, or attach to a bug report.
    Fetch(FetchArgs),
    /// Work with connector documents.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate a connector document and list every problem with its JSON path.
    Check {
        /// The connector document.
        #[arg(long)]
        config: PathBuf,
        /// Output format (json: the problems too, on standard output).
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    #[command(flatten)]
    Deployed(config_cmd::Action),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// `{"journals": [...]}` with notes.
    Json,
    /// For people (`table` is an older name for it).
    #[value(alias = "table")]
    Text,
    /// GlInterface.csv and its zip, written to --out.
    Fbdi,
}

#[derive(clap::Args)]
struct PreviewArgs {
    /// The connector document.
    #[arg(long)]
    config: PathBuf,
    /// An order bundle: {"order", "products", "categories", "category_tree", "refunds"}.
    #[arg(long)]
    order_file: PathBuf,
    /// Store id from the document (default: its first store).
    #[arg(long)]
    store: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Directory for --format fbdi.
    #[arg(long)]
    out: Option<PathBuf>,
    /// GROUP_ID for --format fbdi (default: the order id).
    #[arg(long)]
    group_id: Option<u64>,
}

#[derive(clap::Args)]
struct FetchArgs {
    /// The connector document.
    #[arg(long)]
    config: PathBuf,
    /// Store id from the document.
    #[arg(long)]
    store: String,
    /// BigCommerce order id.
    #[arg(long)]
    order_id: u64,
    /// Where to write the bundle (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Which connector state an operator command works on: a local SQLite database, or the
/// deployed stack.
#[derive(clap::Args)]
struct StateArgs {
    /// The connector document (local state); with --aws the document comes from the secret
    /// named by MLC_CONFIG_SECRET.
    #[arg(long, required_unless_present = "aws")]
    config: Option<PathBuf>,
    /// The SQLite state database (local state).
    #[arg(long, default_value = "mlc-state.db")]
    state: PathBuf,
    /// Work on the deployed stack: the table, queue and secret named by MLC_TABLE,
    /// MLC_QUEUE_URL and MLC_CONFIG_SECRET (the stack's outputs), with the AWS credentials
    /// of this shell.
    #[arg(long)]
    aws: bool,
}

#[derive(clap::Args)]
struct ReconcileArgs {
    #[command(flatten)]
    on: StateArgs,
    /// One store id from the connector document; every store when left out.
    #[arg(long)]
    store: Option<String>,
    /// Orders created from: a date (midnight in the store's time zone with --store, else UTC)
    /// or an RFC 3339 time.
    #[arg(long)]
    from: String,
    /// Orders created before: as --from; now when left out.
    #[arg(long)]
    to: Option<String>,
    /// Which orders the period selects: created in it (the month's sales), or modified in it
    /// (everything the month may have posted: refunds, cancellations, edits of older orders).
    #[arg(long, value_enum, default_value_t = SelectBy::Created)]
    select: SelectBy,
    /// Do not read Oracle (BigCommerce against the connector only).
    #[arg(long)]
    no_ledger: bool,
    /// Queue the orders found not posted; the poster posts them like any other message.
    #[arg(long)]
    fix: bool,
    /// Who asks (kept in the audit of what --fix queues).
    #[arg(long, default_value = "operator")]
    by: String,
    #[command(flatten)]
    output: reconcile::Output,
}

/// How a report with a row per item (`reconcile`, `catalog`) is written.
#[derive(Clone, Copy, ValueEnum)]
enum TableFormat {
    /// For people.
    Text,
    /// The whole report, for scripts.
    Json,
    /// A row per item, for spreadsheets.
    Csv,
}

/// Which orders `mlc reconcile`'s period selects.
#[derive(Clone, Copy, ValueEnum)]
enum SelectBy {
    /// Created in the period.
    Created,
    /// Modified in the period.
    Modified,
}

/// How a report without rows for a spreadsheet is written.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// For people.
    Text,
    /// The whole report, for scripts and spreadsheets.
    Json,
}

#[derive(clap::Args)]
struct ReplayArgs {
    #[command(flatten)]
    on: StateArgs,
    /// Store id from the connector document.
    #[arg(long)]
    store: String,
    /// Order id.
    #[arg(long)]
    order_id: u64,
    /// Which posting: sale, refund:ID, reversal, reversal:N, reinstate:N, adjust:N.
    #[arg(long, default_value = "sale")]
    posting: String,
    /// Who asks (kept in the audit).
    #[arg(long, default_value = "operator")]
    by: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

fn load_config(path: &Path) -> Result<ConnectorConfig, Failure> {
    Ok(ConnectorConfig::load_file(path)?)
}

fn load_bundle(path: &Path) -> Result<OrderBundle, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))
        .map_err(bad)?;
    OrderBundle::from_json(&text).map_err(|e| Failure::from(e).context(path.display().to_string()))
}

async fn run_fetch(args: FetchArgs) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    let Some(store) = config.store(&args.store) else {
        let known: Vec<&str> = config.stores.iter().map(|s| s.id.as_str()).collect();
        return Err(bad(anyhow!(
            "--store: unknown store \"{}\"; known: {}",
            args.store,
            known.join(", ")
        )));
    };
    let client = BigCommerceClient::for_store(store, ClientSettings::default())?;
    // As the poster reads it: with the order's transactions when a rule needs the gateway.
    let bundle = common::posting::fetch::fetch_order(
        &config.mapping,
        &client,
        &store.store_hash,
        args.order_id,
        RefundPolicy::Always,
    )
    .await
    .map_err(|e| Failure::from(e).context(format!("cannot fetch order {}", args.order_id)))?;
    let text = serde_json::to_string_pretty(&bundle.to_file_value()).map_err(bad)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, text + "\n")
                .with_context(|| format!("--out: cannot write {}", path.display()))
                .map_err(Failure::Failed)?;
            eprintln!(
                "wrote {}: order {} with {} lines, {} refunds, {} categorised products ({} BigCommerce calls)",
                path.display(),
                bundle.order.id,
                bundle.lines.len(),
                bundle.refunds.len(),
                bundle.product_categories.len(),
                client.calls()
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}

fn run_preview(args: PreviewArgs) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    let bundle = load_bundle(&args.order_file)?;
    let store = match &args.store {
        Some(s) => s.clone(),
        None => config.stores[0].id.clone(),
    };
    if config.store(&store).is_none() {
        let known: Vec<&str> = config.stores.iter().map(|s| s.id.as_str()).collect();
        return Err(bad(anyhow!(
            "--store: unknown store \"{store}\"; known: {}",
            known.join(", ")
        )));
    }
    // An order the builders cannot read (a currency ISO 4217 does not list) is bad input;
    // one that reads but cannot post as it is (a totals mismatch held) is a failure.
    let preview = preview::preview(&config, &store, &bundle).map_err(|e| {
        let what = if e.is_bad_input() {
            args.order_file.display().to_string()
        } else {
            "cannot post".to_string()
        };
        Failure::from(e).context(what)
    })?;
    match args.format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&preview).map_err(bad)?;
            println!("{text}");
        }
        Format::Text => print!("{}", preview::render_table(&preview)),
        Format::Fbdi => write_fbdi(&preview, &args)?,
    }
    Ok(())
}

fn write_fbdi(preview: &Preview, args: &PreviewArgs) -> Result<(), Failure> {
    let out = args
        .out
        .as_ref()
        .ok_or_else(|| bad(anyhow!("--out: required with --format fbdi (a directory)")))?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("--out: cannot create {}", out.display()))
        .map_err(bad)?;
    let group_id = args.group_id.unwrap_or(preview.order_id);
    let today = chrono::Utc::now().date_naive();
    let import = fbdi::build_import(&preview.journals, group_id, today)
        .map_err(|e| Failure::from(e).context("cannot write the import file"))?;
    let csv_path = out.join(fbdi::CSV_FILE_NAME);
    let zip_path = out.join(import.zip_name());
    std::fs::write(&csv_path, &import.csv)
        .with_context(|| format!("cannot write {}", csv_path.display()))
        .map_err(Failure::Failed)?;
    std::fs::write(&zip_path, &import.zip)
        .with_context(|| format!("cannot write {}", zip_path.display()))
        .map_err(Failure::Failed)?;
    println!(
        "wrote {} ({} rows) and {} for group {}: {}",
        csv_path.display(),
        import.csv.lines().count(),
        zip_path.display(),
        group_id,
        import.batches.join(", ")
    );
    for note in &preview.notes {
        println!("note: {note}");
    }
    Ok(())
}

/// The services an operator command works with, on local or deployed state.
async fn operator_services(on: &StateArgs) -> Result<common::posting::services::Services, Failure> {
    services_on(on.aws, on.config.as_ref(), || {
        if !on.state.exists() {
            return Err(bad(anyhow!(
                "{}: no such state database",
                on.state.display()
            )));
        }
        Ok(common::adapters::sqlite::SqliteDb::open(&on.state)?)
    })
    .await
}

/// Services on the deployed stack (`aws`), or on the document file `config` over the local
/// database `db` opens.
async fn services_on(
    aws: bool,
    config: Option<&PathBuf>,
    db: impl FnOnce() -> Result<common::adapters::sqlite::SqliteDb, Failure>,
) -> Result<common::posting::services::Services, Failure> {
    use common::adapters::aws::{LambdaEnv, from_environment, ports};
    use common::adapters::local_queue::LocalQueue;
    use common::adapters::secrets::FileSource;
    use common::adapters::sqlite::SqliteStore;

    if aws {
        let env = LambdaEnv::from_env()?;
        let ports = ports(&env, &from_environment().await);
        return connect(ports.source, ports.store, ports.queue).await;
    }
    let config = config.expect("clap requires --config without --aws");
    let db = db()?;
    connect(
        Arc::new(FileSource::new(config)),
        Arc::new(SqliteStore::new(db.clone())),
        Arc::new(LocalQueue::new(db, "orders", 5)),
    )
    .await
}

/// A connector document to work with, and no state: a file, or the deployed stack's secret.
#[derive(clap::Args)]
struct DocumentArgs {
    /// The connector document; with --aws the document comes from the secret named by
    /// MLC_CONFIG_SECRET.
    #[arg(long, required_unless_present = "aws")]
    config: Option<PathBuf>,
    /// The deployed stack's document (MLC_CONFIG_SECRET, MLC_TABLE, MLC_QUEUE_URL), with the
    /// AWS credentials of this shell.
    #[arg(long)]
    aws: bool,
}

/// Services for a command that reads the systems a document names and no state (`ping`,
/// `catalog`): locally a scratch database stands in for the state.
async fn document_services(
    on: &DocumentArgs,
) -> Result<common::posting::services::Services, Failure> {
    services_on(on.aws, on.config.as_ref(), || {
        Ok(common::adapters::sqlite::SqliteDb::in_memory()?)
    })
    .await
}

/// Services over these ports, with the document the source holds now.
async fn connect(
    source: Arc<dyn common::ports::SecretSource>,
    store: Arc<dyn common::ports::StateStore>,
    queue: Arc<dyn common::ports::Queue>,
) -> Result<common::posting::services::Services, Failure> {
    use common::posting::services::{PipelineSettings, Services};
    let config = source.connector_document().await?;
    let mut settings = PipelineSettings::for_config(&config);
    // The deployed functions' hook URL, when this shell has the stack's environment.
    settings.webhook_url = std::env::var("MLC_WEBHOOK_URL").ok();
    Services::connect(
        config,
        store,
        queue,
        Arc::new(common::ports::SystemClock),
        settings,
        ClientSettings::default(),
        common::oracle::FusionSettings::default(),
    )
    .map_err(Failure::from)
}

async fn run_replay(args: ReplayArgs) -> Result<(), Failure> {
    use common::journal::PostingKind;
    use common::state::PostingKey;

    let posting: PostingKind = args
        .posting
        .parse()
        .map_err(|e| bad(anyhow!("--posting {:?}: {e}", args.posting)))?;
    let services = operator_services(&args.on).await?;
    let key = PostingKey {
        store: args.store.clone(),
        order_id: args.order_id,
        posting,
    };
    let done = common::posting::replay::replay(&services, &key, &args.by).await?;
    if args.format == ReportFormat::Json {
        let answer = serde_json::json!({
            "posting": key,
            "already_in_ledger": done.already_in_ledger,
            "queued": done.already_in_ledger.is_none(),
            "journal_changed": done.journal_changed,
            "message_id": (!done.message_id.is_empty()).then_some(&done.message_id),
        });
        println!("{answer:#}");
        return Ok(());
    }
    if let Some(batch_id) = done.already_in_ledger {
        println!(
            "{key}: its batch is in the ledger already (JeBatchId {batch_id}): recorded Posted, nothing sent again"
        );
        return Ok(());
    }
    println!(
        "{key}: queued again{}; the poster sends it with the next batch (message {})",
        if done.journal_changed {
            " with its journal built again"
        } else {
            ""
        },
        done.message_id
    );
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Replay(args) => run_replay(args).await,
        Command::Reconcile(args) => reconcile::run(args).await,
        Command::Ping(args) => ping::run(args).await,
        Command::Catalog(args) => catalog::run(args).await,
        Command::DeadLetters(args) => dead_letters::run(args).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args).await.map_err(Failure::Failed),
        Command::Serve(args) => local::run_serve(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Postings(args) => postings::run(args).await,
        Command::Preview(args) => run_preview(args),
        Command::Fetch(args) => run_fetch(args).await,
        Command::Config {
            action: ConfigAction::Deployed(action),
        } => config_cmd::run(action).await,
        Command::Config {
            action: ConfigAction::Check { config, format },
        } => run_config_check(&config, format),
    }
}

/// `mlc config check`: valid with its counts and advice, or every problem with its path.
fn run_config_check(path: &Path, format: ReportFormat) -> Result<(), Failure> {
    let doc = match ConnectorConfig::load_file(path) {
        Ok(doc) => doc,
        Err(e) => {
            if format == ReportFormat::Json {
                let problems: Vec<_> = e
                    .issues
                    .iter()
                    .map(|i| serde_json::json!({"path": i.path, "message": i.message}))
                    .collect();
                let answer = serde_json::json!({
                    "config": path, "valid": false, "problems": problems,
                });
                println!("{answer:#}");
            }
            return Err(e.into());
        }
    };
    let advice = doc.advice();
    match format {
        ReportFormat::Json => {
            let answer = serde_json::json!({
                "config": path,
                "valid": true,
                "schema_version": doc.schema_version,
                "stores": doc.stores.len(),
                "ledgers": doc.oracle.ledgers.len(),
                "mapping_rules": doc.mapping.rules.len(),
                "warnings": advice
                    .iter()
                    .map(|i| serde_json::json!({"path": i.path, "message": i.message}))
                    .collect::<Vec<_>>(),
            });
            println!("{answer:#}");
        }
        ReportFormat::Text => {
            println!(
                "{}: valid (schema version {}; {} stores, {} ledgers, {} mapping rules)",
                path.display(),
                doc.schema_version,
                doc.stores.len(),
                doc.oracle.ledgers.len(),
                doc.mapping.rules.len()
            );
            for advice in advice {
                println!("warning: {advice}");
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
