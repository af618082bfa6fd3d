//! `mqsim check FILE`: validate only, and show what the file resolves to.

use super::{CliError, ScenarioArg, load, warn_model};
use mqsim::dist::fmt_secs;
use mqsim::scenario::Ack;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
}

pub fn check(a: CheckArgs) -> Result<(), CliError> {
    let m = load(&a.scenario.file)?;
    warn_model(&m);
    let s = &m.simulation;
    println!("{}: ok — scenario \"{}\"", a.scenario.file.display(), m.name);
    println!(
        "  simulation: horizon {}, warm-up {}, {} replications, seed {}",
        fmt_secs(s.horizon),
        fmt_secs(s.warmup),
        s.replications,
        s.seed
    );
    for p in &m.producers {
        let to: Vec<&str> = p.routes.iter().map(|&q| m.queues[q].name.as_str()).collect();
        println!(
            "  producer {}: {:.3} msg/s ({}) → exchange \"{}\" key \"{}\" → {}",
            p.name,
            1.0 / p.arrival.mean(),
            p.arrival.label(),
            m.router.exchange_name(p.exchange),
            p.routing_key,
            if to.is_empty() { "(unroutable)".to_string() } else { to.join(", ") }
        );
    }
    for q in &m.queues {
        let bound = q
            .max_length
            .map_or("unbounded".to_string(), |l| format!("max_length {l}, {:?}", q.overflow));
        println!("  queue {}: {bound}", q.name);
    }
    for g in &m.groups {
        let then = g.then.as_ref().map_or(String::new(), |t| {
            let to: Vec<&str> = t.routes.iter().map(|&q| m.queues[q].name.as_str()).collect();
            format!(" then → {}", to.join(", "))
        });
        println!(
            "  consumers {}: {} × {} on {}, prefetch {}, ack {}{then}",
            g.name,
            g.count,
            g.service.label(),
            m.queues[g.queue].name,
            if g.prefetch == 0 { "unlimited".to_string() } else { g.prefetch.to_string() },
            if g.ack == Ack::Manual { "manual" } else { "auto" },
        );
    }
    Ok(())
}
