import assert from "node:assert/strict";
import { parseTemplate, selectValues, toJsonPath } from "./_jsonpath.ts";

const list = {
  items: [
    {
      metadata: { name: "pi-1", labels: { "kubernetes.io/arch": "arm64" } },
      status: { conditions: [{ type: "MemoryPressure", status: "False" }, { type: "Ready", status: "True" }] },
    },
    { metadata: { name: "nuc", labels: {} }, status: { conditions: [{ type: "Ready", status: "Unknown" }] } },
  ],
};

Deno.test("toJsonPath() translates kubectl paths, escaped dots included", () => {
  assert.equal(toJsonPath(".metadata.labels.kubernetes\\.io/arch"), '$["metadata"]["labels"]["kubernetes.io/arch"]');
  assert.equal(toJsonPath("$.items[*].metadata.name"), '$["items"][*]["metadata"]["name"]');
  assert.equal(toJsonPath("..name"), '$..["name"]');
});

Deno.test("parseTemplate() prints values space-separated, ranges, filters and literals as kubectl does", () => {
  assert.equal(parseTemplate("{.items[*].metadata.name}").execute(list), "pi-1 nuc");
  assert.equal(
    parseTemplate('{range .items[*]}{.metadata.name}{"\\t"}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}')
      .execute(list),
    "pi-1\tTrue\nnuc\tUnknown\n",
  );
  assert.equal(parseTemplate("names: {.items[0].metadata.name}!").execute(list), "names: pi-1!");
  assert.equal(parseTemplate("{.items[0].metadata.labels}").execute(list), '{"kubernetes.io/arch":"arm64"}');
  assert.equal(parseTemplate("{.items[5].metadata.name}").execute(list), "", "missing fields print nothing");
  assert.equal(parseTemplate(".items[1].metadata.name").execute(list), "nuc", "a bare path works, as --sort-by allows");
  assert.deepEqual(selectValues("{.items[*].metadata.labels.kubernetes\\.io/arch}", list), ["arm64"]);
});

Deno.test("parseTemplate() refuses broken templates with the reason", () => {
  assert.throws(() => parseTemplate("{.items[*]"), /unclosed "\{"/);
  assert.throws(() => parseTemplate("{range .items[*]}{.metadata.name}"), /\{range\} without \{end\}/);
  assert.throws(() => parseTemplate("{end}"), /\{end\} without \{range\}/);
  assert.throws(() => parseTemplate("{items}"), /paths start with "\."/);
});
