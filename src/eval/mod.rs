//! `aetherveil eval <name> --data <folder> [--json]`: the evaluations on public datasets.

pub mod cidiff;
pub mod logchunks;
pub mod loghub;
pub mod nab;

#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Numenta Anomaly Benchmark: our streaming detector, scored with NAB's scorer.
    Nab(nab::NabArgs),
    /// Loghub-2k template mining: GA, FGA, PA and FTA per system and ground-truth variant.
    Loghub(loghub::LoghubArgs),
    /// LogChunks: the chunk of a failed build log that explains the failure (line P/R/F1).
    Logchunks(logchunks::LogchunksArgs),
    /// CiDiff: failure lines of a failed log kept by our diff against the passing log, vs an LCS diff.
    Cidiff(cidiff::CidiffArgs),
}

pub async fn run(command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Nab(args) => nab::run(args).await,
        EvalCommand::Loghub(args) => loghub::run(args).await,
        EvalCommand::Logchunks(args) => logchunks::run(args).await,
        EvalCommand::Cidiff(args) => cidiff::run(args).await,
    }
}
