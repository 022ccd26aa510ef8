//! The orchestrator's integration tests.

mod llm;
