//! TODO(exchange)
