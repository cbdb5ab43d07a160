// FTL: egress target "..." references unknown config "..."
realm shop {
  module out {
    config host String

    verb call(Unit) Unit
      +egress "https://${host}:${port}/api"
  }
}
