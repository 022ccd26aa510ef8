//! The cause taxonomy.
