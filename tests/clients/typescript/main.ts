// A program of the realm that pins `bank` and `kitchen`, calling them
// through its ingress with the clients `realm generate typescript` wrote
// (tests/clients.rs compiles it with `tsc` and runs it with node). Every
// check prints "ok ..." or exits non-zero saying what differed. It is
// compiled with `lib: ["ES2022"]` only, so it declares the two globals of
// Node it uses; the generated code needs none.

import { Client, RealmError } from "./realms/index.js";
import * as balance from "./realms/bank/balance.js";
import * as kitchen from "./realms/kitchen/kitchen.js";

declare const console: { log(...args: unknown[]): void };
declare const process: { exit(code: number): never; env: Record<string, string | undefined> };

function show(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v instanceof Uint8Array ? `bytes ${Array.from(v).join(",")}` : v,
  );
}

function fail(message: string): never {
  console.log(`FAIL ${message}`);
  process.exit(1);
}

/** Deep equality; a member that is `undefined` is one left out. */
function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x: unknown, i) => equal(x, b[i]));
  }
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    const keys = (o: Record<string, unknown>) =>
      Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort();
    const kx = keys(x);
    const ky = keys(y);
    return kx.length === ky.length && kx.every((k, i) => k === ky[i] && equal(x[k], y[k]));
  }
  return a === b;
}

/** Set when the realms called are `realm fake`s: their replies are
 * generated, so a call only has to succeed and decode (errors come from the
 * fakes' examples). */
const fake = (process.env["REALM_FAKE"] ?? "") !== "";

function same<T>(what: string, got: T, want: T): void {
  if (!fake && !equal(got, want)) {
    fail(`${what}:\n got ${show(got)}\nwant ${show(want)}`);
  }
  console.log(`ok ${what}`);
}

/** Checks that `call` fails with the typed error of a refused call. */
async function callError(
  what: string,
  call: () => Promise<unknown>,
  status: number,
  code: string,
  path: string | undefined,
  message: string,
): Promise<void> {
  try {
    await call();
  } catch (e) {
    if (!(e instanceof RealmError)) {
      fail(`${what}: expected a RealmError, got ${String(e)}`);
    }
    if (e.status !== status || e.code !== code || e.path !== path || !e.message.includes(message)) {
      fail(`${what}: got ${e.status} ${e.code} ${String(e.path)} ${e.message}`);
    }
    console.log(`ok ${what}`);
    return;
  }
  fail(`${what}: the call succeeded`);
}

async function main(): Promise<void> {
  // REALM_ENDPOINT names the ingress.
  const client = new Client();
  const at = new Date("2024-05-01T12:30:45Z");

  const everything: kitchen.Everything = {
    int: 42,
    float: 1.5,
    string: 'snowman ☃ "quoted"\n',
    bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
    bool: true,
    time: at,
    any: { nested: [1.5, "x", true, null] },
    unit: {},
    list: ["a", "b"],
    nested: [[1, 2], [], [3]],
    map: { a: 1, b: 2 },
    intMap: { 1: "one", [-2]: "minus two" },
    enumMap: { red: 1, green: 2 },
    optional: "here",
    optionals: ["x", null, "z"],
    item: { sku: "s1", quantity: 2 },
    items: [{ sku: "s2", quantity: 3 }],
    page: { items: [{ sku: "s3", quantity: 4 }], next: "p2" },
    pair: { key: "k", value: 7 },
    color: kitchen.Color.Green,
    level: kitchen.Level.LEVEL_HIGH,
    shape: { name: "Circle", value: 2.5 },
    shapes: [
      { name: "Label", value: "l" },
      { name: "Square", value: { side: 1.5 } },
      { name: "Big", value: { sku: "b", quantity: 1 } },
      { name: "Corners", value: [1, 2, 3, 4] },
      { name: "When", value: at },
      { name: "Maybe", value: null },
      { name: "Maybe", value: "m" },
      { name: "Tone", value: kitchen.Color.Red },
    ],
    sku: "s9",
    tags: { t: ["x", "y"] },
    label: "Label",
    type: "t",
    node: {
      name: "root",
      children: [{ name: "leaf", children: [] }],
      next: { name: "next", children: [] },
    },
    stamp: { at, by: "me" },
    empty: {},
  };
  same(
    "echo",
    await kitchen.echo(client, everything, {
      requestId: "typescript-echo",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }),
    everything,
  );

  const page: kitchen.Page<kitchen.Item> = { items: [{ sku: "a", quantity: 1 }] };
  same("echoPage", await kitchen.echoPage(client, page), page);

  const shapes = [everything.shape, ...everything.shapes];
  for (const [i, shape] of shapes.entries()) {
    same(`echoShape ${i}`, await kitchen.echoShape(client, shape), shape);
  }

  const levels = [kitchen.Level.LEVEL_LOW, kitchen.Level.LEVEL_HIGH];
  same("echoLevels", await kitchen.echoLevels(client, levels), levels);

  const precise = new Date("2024-05-01T14:30:45.123+02:00");
  same("echoTime", await kitchen.echoTime(client, precise), precise);

  same("levelNames", await kitchen.levelNames(client), [1, 2, 2, 1]);

  await kitchen.ping(client);
  console.log("ok ping");

  const item: kitchen.Item = { sku: "gone", quantity: 1 };
  same("delete", await kitchen.delete_(client, item), item);

  same(
    "withdraw",
    await balance.withdraw(client, { account: "a1", amount: 500, memo: "ts" }),
    { balance: 9500 },
  );
  same("account", await balance.account(client, { id: "a1" }), {
    id: "a1",
    owner: "Ada",
    balance: 9500,
    currency: balance.Currency.Eur,
  });

  // Typed errors: the runner's own, passed through two ingresses, and the
  // ingress's refusal of a body that does not fit.
  await callError(
    "error from the runner",
    () => kitchen.fail(client, { sku: "s1", quantity: 1 }),
    409,
    "out_of_stock",
    undefined,
    "no more s1",
  );
  await callError(
    "error from the bank",
    () => balance.withdraw(client, { account: "a2", amount: 1000 }),
    409,
    "insufficient_funds",
    undefined,
    "account a2 holds 250, 1000 was asked",
  );
  await callError(
    "error from the ingress",
    () => kitchen.echo(client, { ...everything, color: "blue" as string as kitchen.Color }),
    400,
    "invalid_body",
    "$.color",
    'string "blue" is not a value of enum Color; the values are: "red", "green"',
  );
}

main().catch((e: unknown) => fail(String(e)));
