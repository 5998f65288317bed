//! The fault soak's long form: `soak --orders N --seed S [--backend local|moto]` (`moto` needs
//! moto server at `MLC_AWS_ENDPOINT`).
//! Prints the figures; exits 1 when anything is wrong, naming it, with the seed to replay.

use e2e::soak::{Backend, SoakConfig, run};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let orders = arg("--orders").map_or(1000, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("--orders: {v:?} is not a number of orders"))
    });
    let seed = arg("--seed").map_or_else(
        || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        },
        |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("--seed: {v:?} is not a number"))
        },
    );
    let backend = match arg("--backend").as_deref() {
        None | Some("local") => Backend::Local,
        Some("moto") => Backend::Moto,
        Some(other) => panic!("--backend: {other:?} is neither local nor moto"),
    };
    eprintln!("soak: {orders} orders, seed {seed}, {backend:?}");
    let report = run(SoakConfig::long(backend, orders, seed)).await;
    println!("{}", report.summary());
    if !report.problems.is_empty() {
        eprintln!("soak FAILED; replay with --orders {orders} --seed {seed}");
        std::process::exit(1);
    }
}
