// A dump with the builtin module leading the realm block, as FTL's older
// `ftl schema` printed it.
builtin module builtin {
  export data Empty {
  }

  export data Ref {
    module String
    name String
  }
}

realm notes {
  module pad {
    export verb clear(builtin.Empty) builtin.Empty
  }
}
