// The audit trail of every change to an account. Published with the bank's
// API because `balance.withdraw` calls it (as FTL publishes a realm), but
// not callable from other realms: only `export realm` verbs are.
module audit {
  export data Entry {
    account String
    change Int
    at Time
  }

  export verb record(audit.Entry) Unit
}
