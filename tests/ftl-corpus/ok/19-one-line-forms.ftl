// Declarations and metadata written on one line.
realm compact {
  module short {
    data Empty {}
    export data Request {}
    data Point { x Int y Int }
    data Tagged { +generated name String }
    verb ping(Unit) Unit +calls short.pong
    verb pong(Unit) Unit
    verb both(short.Request) short.Point +calls short.ping, short.pong +generated
  }
}
