// FTL: catch verb must have a request type of builtin.CatchRequest<...> /
// catch verb must not have a response type / expected catch to be a verb
realm shop {
  module till {
    topic sales till.Sale

    data Sale {
    }

    data Other {
    }

    verb catchOther(builtin.CatchRequest<till.Other>) Unit

    verb catchWithAnswer(builtin.CatchRequest<till.Sale>) till.Sale

    verb a(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 1 1s catch till.catchOther

    verb b(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 1 1s catch till.catchWithAnswer

    verb c(till.Sale) Unit
      +subscribe till.sales from=beginning
      +retry 1 1s catch till.Other
  }
}
