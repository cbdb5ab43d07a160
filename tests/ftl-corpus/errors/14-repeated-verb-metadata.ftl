// FTL: verb can not have multiple instances of cronjob / verb can not
// subscribe to multiple topics
realm shop {
  module till {
    topic sales till.Sale

    data Sale {
    }

    verb nightly(Unit) Unit
      +cron 0 0 * * *
      +cron 0 12 * * *

    verb twice(till.Sale) Unit
      +subscribe till.sales from=beginning
      +subscribe till.sales from=latest

    verb calls(Unit) Unit
      +calls till.nightly
      +calls till.twice
  }
}
