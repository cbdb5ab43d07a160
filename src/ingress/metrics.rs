//! Prometheus metrics of the ingress.
