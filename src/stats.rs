//! TODO(stats)
