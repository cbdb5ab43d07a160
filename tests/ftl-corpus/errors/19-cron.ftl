// FTL: verb ...: invalid cron expression / cron job can not have a request
// type / ... a response type
realm shop {
  module jobs {
    data Report {
    }

    verb minuteSixty(Unit) Unit
      +cron 60 * * * *

    verb withRequest(jobs.Report) Unit
      +cron 0 * * * *

    verb withResponse(Unit) jobs.Report
      +cron Mon
  }
}
