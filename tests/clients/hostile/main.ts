// A program over the client of the hostile realm (tests/clients.rs
// compiles it with `tsc` and runs it with node): it encodes a request
// whose JSON names are "-", "a,b", "__proto__", quotes and backticks,
// decodes it back, and checks that the codecs refuse what does not fit
// (unknown enum values, integers a number cannot hold, times that are not
// RFC 3339) and that no decoded object gets a prototype from its input.
// Code injected into a generated module through a comment would run when
// it is imported.

import { IntCodec, TimeCodec } from "./realms/index.js";
import * as hostile from "./realms/hostile/hostile.js";

declare const console: { log(...args: unknown[]): void };
declare const process: { exit(code: number): never };

function fail(message: string): never {
  console.log(`FAIL ${message}`);
  process.exit(1);
}

function refuses(what: string, f: () => unknown): void {
  let value: unknown;
  try {
    value = f();
  } catch {
    return;
  }
  fail(`${what} gave ${String(value)}`);
}

const own = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

const at = new Date("2024-05-01T12:30:45Z");
const req: hostile.Req = {
  dash: "dash",
  comma: "comma",
  omit: "omit",
  tick: "tick",
  quote: "quote",
  slash: "slash",
  proto: "proto",
  ["__proto__"]: "dunder",
  type: "type",
  byName: { ["__proto__"]: 1, constructor: 2 },
  mood: hostile.Mood["__proto__"],
  level: hostile.Level["__proto__"],
  shape: { name: "__proto__", value: "shape" },
  date: { at, raw: new Uint8Array([0, 1, 2]) },
  record: {
    map: { ["__proto__"]: { at, raw: new Uint8Array([]) } },
    byMood: { [hostile.Mood.Calm]: 1 },
  },
  boxed: { value: 7, at, raw: new Uint8Array([255]) },
};
const json = JSON.stringify(hostile.ReqCodec.encode(req));
console.log(json);

const back = hostile.ReqCodec.decode(JSON.parse(json), "$");
if (JSON.stringify(hostile.ReqCodec.encode(back)) !== json) {
  fail(`decode: ${JSON.stringify(hostile.ReqCodec.encode(back))}`);
}
if (!own(back, "__proto__") || back.__proto__ !== "dunder" || back.ctor !== undefined) {
  fail("decode: the field __proto__ or constructor");
}
console.log("ok decode");

// `{"__proto__": {...}}` is a key like any other.
const polluting = JSON.parse('{"__proto__": {"at": "2024-05-01T12:30:45Z", "raw": ""}}');
const map = hostile.RecordCodec.decode({ map: polluting, byMood: {} }, "$").map;
if (Object.getPrototypeOf(map) !== Object.prototype || !own(map, "__proto__")) {
  fail("a map key __proto__ became the map's prototype");
}
console.log("ok map keys are keys");

refuses("a String enum", () => hostile.MoodCodec.decode("sad", "$"));
if (hostile.MoodCodec.decode("proto", "$") !== hostile.Mood["__proto__"]) {
  fail("a String enum refused its value");
}
console.log("ok unknown String enum value refused");
for (const unknown of [7, "7", "High"]) {
  refuses(`an Int enum (${unknown})`, () => hostile.LevelCodec.decode(unknown, "$"));
}
console.log("ok unknown Int enum value refused");

refuses("Int 1.5", () => IntCodec.decode(1.5, "$"));
refuses("Int 2^53", () => IntCodec.decode(2 ** 53, "$"));
refuses("an Int of 2^53 sent", () => IntCodec.encode(2 ** 53));
console.log("ok Int is an exact integer");

for (const text of ["May 1, 2024", "2024-05-01", "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01 12:30:45Z"]) {
  refuses(`Time ${text}`, () => TimeCodec.decode(text, "$"));
}
const time = TimeCodec.decode("2024-05-01T12:30:45.123456+02:00", "$");
if (time.toISOString() !== "2024-05-01T10:30:45.123Z") {
  fail(`Time with an offset: ${time.toISOString()}`);
}
console.log("ok Time is RFC 3339");
