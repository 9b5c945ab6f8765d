//! Alerts seen from outside (placeholder).
