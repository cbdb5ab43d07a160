// What `ftl schema example` shows, told in other words: ingress verbs over
// the builtin envelopes, a verb calling another module.
realm demo {
  module greet {
    export data ProblemDetails {
      detail String +alias json "detail"
    }

    export data NamePath {
      name String +alias json "name"
    }

    export data AgeQuery {
      age Int? +alias json "age"
    }

    export data Greeting {
      text String +alias json "text"
    }

    export data Person {
      name String +alias json "name"
      age Int +alias json "age"
    }

    export verb hello(builtin.HttpRequest<Unit, greet.NamePath, greet.AgeQuery>) builtin.HttpResponse<greet.Greeting, greet.ProblemDetails>
      +ingress http GET /hello/{name}

    export verb register(builtin.HttpRequest<greet.Person, Unit, Unit>) builtin.HttpResponse<greet.Greeting, greet.ProblemDetails>
      +ingress http POST /people
  }

  module clock {
    export data Tick {
    }

    export data Tock {
      at Time
    }

    verb read(clock.Tick) clock.Tock

    // Tells the time.
    export verb tell(clock.Tick) clock.Tock
      +calls clock.read
  }

  module chat {
    config greeting String

    export data Line {
      text String? +alias json "text"
    }

    // Answers with the time.
    export verb answer(chat.Line) chat.Line
      +calls clock.tell
      +config chat.greeting
  }
}
