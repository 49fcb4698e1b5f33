import assert from "node:assert/strict";
import { columnWidths, renderRows, renderTable } from "./_table.ts";

Deno.test("renderTable() pads cells by three spaces to at least six, leaving the last column unpadded", () => {
  assert.equal(
    renderTable([["NAME", "STATUS", "AGE"], ["a", "Running", "5m"], ["longer-name", "Ok", "3d"]]),
    "NAME          STATUS    AGE\na             Running   5m\nlonger-name   Ok        3d\n",
  );
});

Deno.test("columnWidths() keeps earlier widths so watched rows line up, and ignores colour codes", () => {
  const widths = columnWidths([["NAME", "STATUS"], ["web-1", "Running"]]);
  const next = columnWidths([["w", "\x1b[32mOk\x1b[39m"]], widths);
  assert.deepEqual(next, widths);
  assert.equal(renderRows([["w", "x"]], next), "w       x\n");
});
