//! TODO(cost)
