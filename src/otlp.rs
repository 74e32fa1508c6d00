//! TODO(otlp)
