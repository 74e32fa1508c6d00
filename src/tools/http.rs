//! TODO(http tools)
