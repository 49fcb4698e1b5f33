import assert from "node:assert/strict";
import { InvalidArgumentError } from "commander";
import { duration, wholeNumber } from "./_flags.ts";

Deno.test("duration() reads 30s, 5m, 1h30m, 500ms and bare seconds", () => {
  assert.equal(duration("30s"), 30_000);
  assert.equal(duration("1h30m"), 5_400_000);
  assert.equal(duration("500ms"), 500);
  assert.equal(duration("90"), 90_000);
  assert.throws(() => duration("soon"), InvalidArgumentError);
  assert.throws(() => duration("5x"), InvalidArgumentError);
});

Deno.test("wholeNumber() refuses anything but digits", () => {
  assert.equal(wholeNumber("3"), 3);
  assert.throws(() => wholeNumber("-1"), InvalidArgumentError);
  assert.throws(() => wholeNumber("1.5"), InvalidArgumentError);
});
