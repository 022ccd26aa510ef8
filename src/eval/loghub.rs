//! `aetherveil eval loghub --data <folder> [--json]`.

#[derive(Debug, clap::Args)]
pub struct LoghubArgs {
    /// The dataset folder (same layout as `../shared/datasets/loghub`).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: LoghubArgs) -> anyhow::Result<()> {
    anyhow::bail!("eval loghub is not built yet (data: {})", args.data.display())
}
