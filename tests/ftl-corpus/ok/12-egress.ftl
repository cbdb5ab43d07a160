// Egress targets naming the module's config, in FTL's printed form
// (blank-separated) and its grammar's (comma-separated).
realm outbound {
  module weather {
    config forecastHost String
    config forecastPort Int
    config archiveHost String

    verb fetch(Unit) Unit
      +egress "https://${forecastHost}:${forecastPort}/v1"

    verb mirror(Unit) Unit
      +egress "https://${forecastHost}/v1" "https://${archiveHost}/v1"

    verb backup(Unit) Unit
      +egress "https://${archiveHost}/a", "https://static.example.com/b"
  }
}
