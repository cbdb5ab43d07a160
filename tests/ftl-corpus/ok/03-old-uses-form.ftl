// The form realm printed before it spoke FTL's: `+config uses` and
// `+secrets uses`. Still read; printed in FTL's form.
realm shop {
  module billing {
    config invoicePrefix String
    secret signingKey Bytes

    verb invoice(Unit) Unit
      +config uses billing.invoicePrefix
      +secrets uses billing.signingKey
  }
}
