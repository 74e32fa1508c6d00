//! TODO(testkit)
