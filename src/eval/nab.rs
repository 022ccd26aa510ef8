//! NAB evaluation (being written).

#[derive(Debug, clap::Args)]
pub struct NabArgs {
    /// The NAB folder (data/, labels/, config/, results/).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: NabArgs) -> anyhow::Result<()> {
    anyhow::bail!("eval nab is not built yet ({})", args.data.display())
}
