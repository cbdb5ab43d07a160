// Field metadata after the type, and strings with Go's escapes, as FTL's
// printer quotes them.
realm people {
  module profiles {
    export data Profile {
      displayName {String: String}? +alias json "rqn"
      tags [String] +alias json "tag\u00e9s"
      motto String +alias json "say \"hi\"\tthen\\go"
      bell String +alias json "ring\a\x41\101\U0001F600"
    }
  }
}
