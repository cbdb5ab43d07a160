// Written on Windows: lines end with CR LF.
realm crlf {
  module lines {
    export data Row {
      text String +alias json "t"
    }

    verb read(Unit) lines.Row
      +calls lines.write

    verb write(lines.Row) Unit
  }
}
