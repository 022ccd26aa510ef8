//! CI log analysis that does not depend on any Aetherveil service: reading GitHub Actions logs,
//! mining templates online, diffing a failed log against passing runs and extracting the chunk
//! that explains a failure.
//!
//! ```text
//! bytes (job log, or the run's log zip)
//!   └─▶ reader ─▶ LogLine { number, step, kind, text }      (streamed, bounded memory)
//!         ├─▶ miner::Miner ─▶ TemplateId per line            (one configuration for every source)
//!         ├─▶ diff::against_passing(failed, passing runs)    (templates never/rarely seen when green)
//!         └─▶ explain::chunk(failed)                         (no passing run needed)
//! ```

pub mod diff;
pub mod explain;
pub mod line;
pub mod miner;
pub mod reader;

pub use line::{LineKind, LogLine};
pub use miner::{Miner, MinerConfig, TemplateId};
