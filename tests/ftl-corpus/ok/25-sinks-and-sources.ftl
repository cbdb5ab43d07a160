// Verbs that only take (sinks), only give (sources), or neither.
realm flows {
  module payments {
    data Authorised {
    }

    data Captured {
    }

    data Refunded {
      amount Int
    }

    verb authorised(payments.Authorised) Unit

    verb captured(payments.Captured) Unit

    verb refunded(payments.Refunded) Unit

    verb nextRefund(Unit) payments.Refunded

    verb tick(Unit) Unit
  }
}
