// A realm with comments on everything.
//
// A second paragraph.
realm commented {
  // The module.
  module notes {
    // A config value.
    config limit Int
    // A secret.
    secret key String

    // A note.
    export data Note {
      // Its text.
      text String
      //
      // Tags, after an empty comment line.
      tags [String]
    }

    // Colours.
    enum Colour: String {
      // The first.
      Red = "red"
    }

    // Writes a note.
    verb write(notes.Note) Unit
  }
}
