// A realm whose comments and names try to end the comments and literals
// of generated code: */ `} ``` "quotes" \ @ts-nocheck
realm hostile {
  // Module doc */ func init() { panic("INJECTED-COMMENT") } /*
  // @ts-nocheck
  module hostile {
    // Doc */ throw new Error("INJECTED-COMMENT"); /* `backticks` "quotes" \
    // ```
    // fn main() { panic!("INJECTED-COMMENT") }
    // ```
    //     INJECTED-COMMENT: an indented code block
    // @ts-ignore
    export realm data Req {
      // */ INJECTED-COMMENT */ `
      dash String +alias json "-"
      comma String +alias json "a,b"
      omit String +alias json "x,omitempty"
      tick String +alias json "`};func init(){panic(\"INJECTED-TAG\")};type Z struct{A int `"
      quote String +alias json "q\"uote"
      slash String +alias json "back\\slash"
      proto String +alias json "__proto__"
      ctor String? +alias json "constructor"
      __proto__ String +alias json "dunder"
      type String
      byName {String: Int}
      mood hostile.Mood
      level hostile.Level
      shape hostile.Shape
      date hostile.Date
      record hostile.Record
      boxed hostile.Box<Int>
    }

    // ``` ~~~
    export realm enum Mood: String {
      // Calm */ `
      Calm = "calm \"quoted\" ${x} `tick` \\ ‮"
      __proto__ = "proto"
    }

    export realm enum Level: Int {
      Low = 1
      __proto__ = 2
    }

    export realm enum Shape {
      __proto__ String
      Other Int
    }

    // A data type named like a global type.
    export realm data Date {
      at Time
      raw Bytes
    }

    export realm data Record {
      map {String: hostile.Date}
      byMood {hostile.Mood: Int}
    }

    export realm data Promise {
      ok Bool
    }

    export realm data Uint8Array {
      n Int
    }

    export realm data Partial {
      n Int
    }

    // A type parameter named like a global type.
    export realm data Box<Date> {
      value Date
      at Time
      raw Bytes
    }

    // */ INJECTED-COMMENT
    export realm verb request(hostile.Req) hostile.Promise

    export realm verb client(hostile.Promise) hostile.Req

    export realm verb options(Unit) hostile.Record
  }
}
