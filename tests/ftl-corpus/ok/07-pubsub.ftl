// Publish and subscribe: partitions, where a subscription starts, dead
// letters (declared, and left for FTL to declare), retries with catch
// verbs (bare and qualified).
realm events {
  module ledger {
    export topic entries ledger.Entry
      +partitions 6
    topic audits ledger.Audit
    topic auditFailed builtin.FailedEvent<ledger.Audit>

    export data Entry {
      account String
      amount Int
    }

    data Audit {
      entry ledger.Entry
    }

    verb post(ledger.Entry) Unit
      +publish ledger.entries

    verb onEntry(ledger.Entry) Unit
      +subscribe ledger.entries from=beginning
      +retry 1m5s 1h catch catchAnything

    verb onEntryLate(ledger.Entry) Unit
      +subscribe ledger.entries from=latest deadletter
      +retry 10 5s 20m catch ledger.catchEntry

    verb audit(ledger.Audit) Unit
      +subscribe audits from=beginning deadletter

    verb catchEntry(builtin.CatchRequest<ledger.Entry>) Unit

    verb catchAnything(builtin.CatchRequest<Any>) Unit
  }
}
