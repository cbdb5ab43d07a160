// Cron jobs: fields with ranges, steps and lists (5, 6 and 7 of them), an
// interval and a weekday.
realm ops {
  module jobs {
    verb everyTenSeconds(Unit) Unit
      +cron */10 * * 1-10,11-31 * * *

    verb hourly(Unit) Unit
      +cron 0 * * * *

    verb weekdaysAtNoon(Unit) Unit
      +cron 0 0 12 * * 1-5

    verb inTheYear(Unit) Unit
      +cron 30 4 1 1 * 2031

    verb twiceADay(Unit) Unit
      +cron 12h

    verb halfHourly(Unit) Unit
      +cron 30m

    verb fridays(Unit) Unit
      +cron Fri
  }
}
