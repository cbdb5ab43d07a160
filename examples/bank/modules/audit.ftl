// The audit trail of every change to an account. Not part of the bank's
// public API: only modules of the bank realm call it.
module audit {
  export data Entry {
    account String
    change Int
    at Time
  }

  export verb record(audit.Entry) Unit
}
