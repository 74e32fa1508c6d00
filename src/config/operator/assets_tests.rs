//! Checks of the operator assets (envoy/, docs/) against the configuration and stats contract.
