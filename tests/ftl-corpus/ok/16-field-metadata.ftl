// Field metadata after the type, and strings with Go's escapes, as FTL's
// printer quotes them (`%q`). Control characters (`\t`, `\a`) are allowed
// in string values; in metadata strings, which name things, realm refuses
// them.
realm people {
  module profiles {
    export data Profile {
      displayName {String: String}? +alias json "rqn"
      tags [String] +alias json "tag\u00e9s"
      motto String +alias json "say \"hi\" then\\go"
      bell String +alias json "ring\x41\101\U0001F600"
      mood profiles.Mood
    }

    export enum Mood: String {
      Chatty = "say \"hi\"\tthen\\go"
      Ringing = "ring\a\x41\101\U0001F600"
    }
  }
}
