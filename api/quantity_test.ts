import assert from "node:assert/strict";
import { canonicalQuantity, compareQuantities, Quantity, quantityErrors, toBytes, toMillicores } from "./quantity.ts";

Deno.test("Quantity.parse() prints the canonical form Kubernetes prints", () => {
  const cases: [string | number, string][] = [
    ["500m", "500m"],
    ["1500m", "1500m"],
    ["1.5", "1500m"],
    ["0.5", "500m"],
    ["1000m", "1"],
    ["128Mi", "128Mi"],
    ["1024Mi", "1Gi"],
    ["1Gi", "1Gi"],
    ["1.5Gi", "1536Mi"],
    ["0.5Gi", "512Mi"],
    ["0.5Ki", "512"],
    ["1.5Ki", "1536"],
    ["0.1Ki", "102400m"],
    ["1e3", "1e3"],
    ["1E3", "1e3"],
    ["1E", "1E"],
    ["100k", "100k"],
    ["1.5G", "1500M"],
    ["+1", "1"],
    ["-1.5", "-1500m"],
    ["-1Ki", "-1Ki"],
    ["0", "0"],
    ["0Mi", "0"],
    ["-0", "0"],
    ["007", "7"],
    ["1.", "1"],
    [".5", "500m"],
    ["12e6", "12e6"],
    ["1000E", "1e21"],
    ["0.0000000001", "1n"],
    [1, "1"],
    [0.25, "250m"],
    [1e21, "1e21"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(Quantity.parse(input).toString(), expected, `parse(${JSON.stringify(input)})`);
  }
});

Deno.test("Quantity.parse() rejects malformed quantities with a TypeError quoting the value", () => {
  for (
    const bad of [
      "1.2.3",
      "Mi",
      "",
      "1 Mi",
      "--1",
      "1mi",
      ".",
      "+",
      "-",
      "aoeu",
      " 1",
      "1 ",
      "1i",
      "1e",
      "1e+",
      "0.1am",
      "1Ee3",
    ]
  ) {
    assert.throws(
      () => Quantity.parse(bad),
      (e: unknown) => e instanceof TypeError && e.message.includes(JSON.stringify(bad)),
      `parse(${JSON.stringify(bad)})`,
    );
  }
});

Deno.test("Quantity.parse() words errors like Kubernetes", () => {
  assert.deepEqual(quantityErrors("1.2.3"), [
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  ]);
  assert.deepEqual(quantityErrors("1mi"), ["unable to parse quantity's suffix"]);
  assert.deepEqual(quantityErrors("128Mi"), []);
  assert.deepEqual(quantityErrors({}), ["must be a string or a number"]);
  assert.deepEqual(quantityErrors(Number.NaN), ["must be a finite number"]);
});

Deno.test("Quantity.parse() throws RangeError for absurd exponents and lengths", () => {
  assert.throws(() => Quantity.parse("1e1001"), RangeError);
  assert.throws(() => Quantity.parse("1".repeat(200)), RangeError);
  assert.throws(() => Quantity.parse(Infinity), TypeError);
});

Deno.test("Quantity keeps exact values beyond 2^53", () => {
  const big = Quantity.parse("7Ei");
  assert.equal(big.value(), 7n * 2n ** 60n);
  assert.equal(big.add(Quantity.parse("1")).cmp(big), 1);
  assert.equal(compareQuantities("9007199254740993", "9007199254740992"), 1);
  assert.equal(canonicalQuantity("6Ei"), "6Ei");
});

Deno.test("Quantity.parse() caps binary quantities at 2^63-1 like Kubernetes", () => {
  const capped = Quantity.parse("8Ei");
  assert.equal(capped.value(), 2n ** 63n - 1n);
  assert.equal(capped.cmp(Quantity.parse("7Ei")), 1);
  assert.equal(capped.toString(), "9223372036854775807");
});

Deno.test("Quantity.cmp() compares across formats", () => {
  assert.equal(compareQuantities("1Gi", "1073741824"), 0);
  assert.equal(compareQuantities("1G", "1Gi"), -1);
  assert.equal(compareQuantities("0.5", "500m"), 0);
  assert.equal(compareQuantities(2, "1999m"), 1);
  assert.ok(Quantity.parse("1Ki").equals(Quantity.parse("1024")));
});

Deno.test("Quantity.add() and sub() are exact and keep the receiver's format", () => {
  const sum = Quantity.parse("100m").add(Quantity.parse("200m"));
  assert.equal(sum.toString(), "300m");
  assert.equal(Quantity.parse("1Gi").add(Quantity.parse("512Mi")).toString(), "1536Mi");
  assert.equal(Quantity.parse("1Gi").sub(Quantity.parse("1Gi")).toString(), "0");
  const fromZero = Quantity.fromValue(0).add(Quantity.parse("1Mi"));
  assert.equal(fromZero.format, "BinarySI");
  assert.equal(fromZero.toString(), "1Mi");
  assert.equal(Quantity.parse("1").sub(Quantity.parse("1500m")).toString(), "-500m");
  assert.equal(Quantity.parse("1").neg().toString(), "-1");
});

Deno.test("toMillicores() rounds up like Kubernetes MilliValue", () => {
  assert.equal(toMillicores("250m"), 250);
  assert.equal(toMillicores("0.1"), 100);
  assert.equal(toMillicores("2"), 2000);
  assert.equal(toMillicores("0.1m"), 1);
  assert.equal(toMillicores("1n"), 1);
  assert.equal(toMillicores(Quantity.parse("-0.1m")), -1);
});

Deno.test("toBytes() converts memory and storage, rounding up", () => {
  assert.equal(toBytes("128Mi"), 134217728);
  assert.equal(toBytes("1Gi"), 1073741824);
  assert.equal(toBytes("1G"), 1e9);
  assert.equal(toBytes("1.5"), 2);
  assert.equal(toBytes("100m"), 1);
});

Deno.test("Quantity.fromValue() and fromMillis() build quantities for reporting", () => {
  assert.equal(Quantity.fromValue(8053063680, "BinarySI").toString(), "7680Mi");
  assert.equal(Quantity.fromMillis(1500).toString(), "1500m");
  assert.equal(Quantity.fromMillis(2000).toString(), "2");
  assert.equal(JSON.stringify({ cpu: Quantity.fromMillis(250) }), '{"cpu":"250m"}');
  assert.throws(() => Quantity.fromValue(0.5), RangeError);
});
