//! `aetherveil eval cidiff --data <folder> [--json]`.

#[derive(Debug, clap::Args)]
pub struct CidiffArgs {
    /// The dataset folder (same layout as `../shared/datasets/cidiff`).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: CidiffArgs) -> anyhow::Result<()> {
    anyhow::bail!("eval cidiff is not built yet (data: {})", args.data.display())
}
