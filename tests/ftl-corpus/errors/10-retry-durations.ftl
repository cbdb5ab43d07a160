// FTL: could not parse min backoff duration / retry must have a minimum
// backoff / max backoff ... / can not define a backoff duration when retry
// count is 0 and no catch is declared
realm shop {
  module till {
    topic sales till.Sale

    data Sale {
    }

    verb outOfOrder(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 3 10s2m

    verb tooShort(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 0s

    verb noBackoff(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 4

    verb backwards(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 2m 10s

    verb tooLong(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 1d1h

    verb milliseconds(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 500ms

    verb zeroWithBackoff(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 0 5s
  }
}
