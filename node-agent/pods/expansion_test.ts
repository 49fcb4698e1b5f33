import assert from "node:assert/strict";
import { expand, lookupIn } from "./expansion.ts";

const vars = lookupIn(new Map([["PORT", "80"], ["HOST", "web"], ["EMPTY", ""]]));

Deno.test("expand() replaces defined $(VAR) references and keeps undefined ones as written", () => {
  assert.equal(expand("--port=$(PORT) --host=$(HOST)", vars), "--port=80 --host=web");
  assert.equal(expand("$(MISSING)/x", vars), "$(MISSING)/x");
  assert.equal(expand("a$(EMPTY)b", vars), "ab");
});

Deno.test("expand() treats $$ as an escaped $ and leaves other $ forms alone", () => {
  assert.equal(expand("$$(PORT)", vars), "$(PORT)");
  assert.equal(expand("$$$(PORT)", vars), "$80");
  assert.equal(expand("cost: $5 and $PORT", vars), "cost: $5 and $PORT");
  assert.equal(expand("trailing $", vars), "trailing $");
  assert.equal(expand("open $(PORT", vars), "open $(PORT");
  assert.equal(expand("$()", vars), "$()");
});

Deno.test("lookupIn() takes the first map that defines a name", () => {
  const lookup = lookupIn(new Map([["A", "1"]]), new Map([["A", "2"], ["B", "3"]]));
  assert.equal(lookup("A"), "1");
  assert.equal(lookup("B"), "3");
  assert.equal(lookup("C"), undefined);
});
