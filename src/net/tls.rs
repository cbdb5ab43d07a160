//! TLS configuration for the ingress listener and its upstreams (rustls).
