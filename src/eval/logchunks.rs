//! `aetherveil eval logchunks --data <folder> [--json]`.

#[derive(Debug, clap::Args)]
pub struct LogchunksArgs {
    /// The dataset folder (same layout as `../shared/datasets/logchunks`).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: LogchunksArgs) -> anyhow::Result<()> {
    anyhow::bail!("eval logchunks is not built yet (data: {})", args.data.display())
}
