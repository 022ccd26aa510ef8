//! `aetherveil eval <name> --data <folder> [--json]`: the evaluations on public datasets.

pub mod nab;

#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Numenta Anomaly Benchmark: our streaming detector, scored with NAB's scorer.
    Nab(nab::NabArgs),
}

pub async fn run(command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Nab(args) => nab::run(args).await,
    }
}
