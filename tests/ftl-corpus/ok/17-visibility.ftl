// Who sees what: module exports, realm exports, and what FTL lets an
// exported verb use.
realm visible {
  module time {
    export data Request {
    }

    data Hidden {
      at Time
    }

    export data Response {
      time Time
    }

    export verb now(time.Request) time.Response

    // A private verb uses private types.
    verb internal(time.Hidden) time.Hidden
  }

  module echo {
    export realm data Echo {
      message String
    }

    export realm typealias Message String

    export realm enum Tone: String {
      Loud = "loud"
    }

    export realm topic echoes echo.Echo

    export realm verb echo(echo.Echo) echo.Echo
      +calls time.now
  }
}
