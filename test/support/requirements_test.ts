import assert from "node:assert/strict";
import { findProgram, requireTools } from "./requirements.ts";

const MISSING = "skiff-no-such-tool-4f2a";

Deno.test("requireTools() with everything present does not ignore", () => {
  const needs = requireTools(["sh"], { ci: true });
  assert.deepEqual(needs, { ignore: false, missing: [] });
});

Deno.test("requireTools() outside CI ignores tests when a tool is missing", () => {
  const needs = requireTools(["sh", MISSING], { ci: false });
  assert.equal(needs.ignore, true);
  assert.deepEqual(needs.missing, [`"${MISSING}" (not found on PATH)`]);
});

Deno.test("requireTools() in CI throws naming what is missing and how to install it", () => {
  const path = Deno.env.get("PATH") ?? "";
  Deno.env.set("PATH", "/nonexistent");
  try {
    assert.throws(
      () => requireTools(["nft", "/usr/lib/cni/nope"], { ci: true }),
      new Error(
        'Missing test requirements in CI: "nft" (install: apt-get install -y nftables), ' +
          '"/usr/lib/cni/nope" (install: apt-get install -y containernetworking-plugins)',
      ),
    );
  } finally {
    Deno.env.set("PATH", path);
  }
});

Deno.test("requireTools() reads CI=true from the environment", () => {
  const ci = Deno.env.get("CI");
  Deno.env.set("CI", "true");
  try {
    assert.throws(
      () => requireTools([MISSING], { hints: { [MISSING]: "build it first" } }),
      /Missing test requirements in CI: "skiff-no-such-tool-4f2a" \(build it first\)/,
    );
  } finally {
    if (ci === undefined) Deno.env.delete("CI");
    else Deno.env.set("CI", ci);
  }
});

Deno.test("requireTools() with root: true reports a non-root user", () => {
  const needs = requireTools([], { root: true, ci: false });
  assert.equal(needs.ignore, Deno.uid() !== 0);
});

Deno.test("findProgram() finds programs on PATH and checks paths directly", () => {
  assert.match(findProgram("sh") ?? "", /\/sh$/);
  assert.equal(findProgram(MISSING), undefined);
  assert.equal(findProgram("/etc/passwd"), undefined, "not executable");
});
