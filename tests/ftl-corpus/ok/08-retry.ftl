// Retries of subscribers: a count, backoffs in FTL's units, no backoff when
// the count is 0 and a catch verb takes over.
realm jobs {
  module mail {
    export topic outbox mail.Message

    export data Message {
      to String
      subject String
    }

    verb send(mail.Message) Unit
      +subscribe mail.outbox from=beginning
      +retry 5 1s 1d

    verb sendOnce(mail.Message) Unit
      +subscribe mail.outbox from=latest
      +retry 0 catch mail.undeliverable

    verb sendPatiently(mail.Message) Unit
      +subscribe mail.outbox from=beginning
      +retry 2h30m

    verb undeliverable(builtin.CatchRequest<mail.Message>) Unit
  }
}
