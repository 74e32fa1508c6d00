//! TODO(trace)
