//! One replication of the simulation engine and nothing else, for profilers
//! (`valgrind --tool=callgrind`, `perf`): the M/M/1 and M/M/64 models of `mqsim bench`, or
//! any scenario file.
//!
//! Run with `cargo run --release --example engine_profile -- mm1|mm64|FILE [HORIZON_S]`;
//! `floor1` and `floor64` run the reference loops the M/M/1 and M/M/64 figures are measured
//! against, over the same work.

use mqsim::scenario::Model;
use mqsim::sim::{reference, simulate, speed};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map_or("mm1", String::as_str);
    let horizon: Option<f64> = args.get(1).map(|h| h.parse()).transpose()?;
    match what {
        "floor1" => {
            let customers = (8.0 * horizon.unwrap_or(100_000.0)) as u64;
            let w = reference::lindley_mm1(8.0, 10.0, customers, 1);
            println!("customers {customers} mean wait {w}");
            return Ok(());
        }
        "floor64" => {
            let (events, w) =
                reference::heap_mmc(512.0, 10.0, 64, horizon.unwrap_or(100_000.0 / 64.0), 1);
            println!("events {events} mean wait {w}");
            return Ok(());
        }
        _ => {}
    }
    let model = match what {
        "mm1" => speed::mmc_model(8.0, 10.0, 1, horizon.unwrap_or(100_000.0)),
        "mm64" => speed::mmc_model(512.0, 10.0, 64, horizon.unwrap_or(100_000.0 / 64.0)),
        file => {
            let mut m = Model::from_toml(&std::fs::read_to_string(file)?, file)?;
            if let Some(h) = horizon {
                m.simulation.horizon = h;
            }
            m
        }
    };
    let r = simulate(&model, 0, None);
    let published: u64 = r.producers.iter().map(|p| p.published).sum();
    println!("events {} published {published}", r.events);
    Ok(())
}
