//! `mqsim check FILE`: validate only, and show what the file resolves to.

use super::{CliError, ScenarioArg, load, warn_model};
use mqsim::report::table;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
}

pub fn check(a: CheckArgs) -> Result<(), CliError> {
    let m = load(&a.scenario.file)?;
    warn_model(&m, &mqsim::analytic::analyze(&m));
    print!("{}", table::render_check(&a.scenario.file.display().to_string(), &m));
    Ok(())
}
