import assert from "node:assert/strict";
import { requireTools } from "../../test/support/mod.ts";
import { run } from "../_exec.ts";
import { buildRuleset, type ProxyService, type ProxyState } from "./nft_ruleset.ts";
import { NftTable } from "./nft_table.ts";
import { recordingExec } from "./_test_support.ts";

const web: ProxyService = {
  namespace: "default",
  name: "web",
  clusterIP: "10.43.0.10",
  sessionAffinity: "ClientIP",
  ports: [{ name: "", protocol: "TCP", port: 80, endpoints: [{ address: "10.42.1.5", port: 8080 }] }],
};

function state(services: ProxyService[]): ProxyState {
  return { services, nodeAddresses: ["192.168.77.2"], podCidr: "10.42.1.0/24" };
}

const withEndpoints = (...addresses: string[]): ProxyService => ({
  ...web,
  ports: [{ ...web.ports[0]!, endpoints: addresses.map((address) => ({ address, port: 8080 })) }],
});

Deno.test("NftTable.apply() lists the table first, then sends only differences, and nothing when unchanged", async () => {
  const { exec, commands } = recordingExec((cmd) => ({
    stdout: cmd.includes("list") ? '{"nftables": [{"metainfo": {}}]}' : "",
  }));
  const table = new NftTable({ exec, netns: "node-1" });
  const first = await table.apply(buildRuleset(state([web])));
  assert.equal(first.mode, "full");
  assert.deepEqual(commands.map((c) => c.cmd.join(" ")), [
    "nft -j list chains ip",
    "nft -j -t list sets ip",
    "nft -j -t list maps ip",
    "nft -j list tables ip",
    "nft -f -",
  ]);
  assert.ok(commands.every((c) => c.options.netns === "node-1"));
  assert.match(commands.at(-1)!.options.stdin!, /^add table ip skiff\nflush table ip skiff\n/);

  commands.length = 0;
  assert.equal((await table.apply(buildRuleset(state([web])))).mode, "unchanged");
  assert.equal(commands.length, 0);

  const update = await table.apply(buildRuleset(state([withEndpoints("10.42.1.5", "10.42.1.6")])));
  assert.equal(update.mode, "update");
  assert.deepEqual(commands.map((c) => c.cmd.join(" ")), ["nft -f -"]);
  assert.doesNotMatch(commands[0]!.options.stdin!, /flush table/);
});

Deno.test("NftTable.apply() falls back to a full rewrite, then to recreating the table, and reports why", async () => {
  let failures = 2;
  const { exec, commands } = recordingExec((cmd, options) => {
    if (cmd.includes("list")) return { stdout: '{"nftables": []}' };
    if (options.stdin !== undefined && !options.stdin.includes("delete table") && failures-- > 0) {
      throw new Error("Could not process rule: No such file or directory");
    }
    return {};
  });
  const table = new NftTable({ exec });
  failures = 0;
  await table.apply(buildRuleset(state([web])));
  failures = 2;
  const report = await table.apply(buildRuleset(state([withEndpoints("10.42.1.7")])));
  assert.equal(report.mode, "recreate");
  assert.deepEqual(report.fallbackReasons.map((r) => r.split(":")[0]), ["update", "full"]);
  assert.match(commands.at(-1)!.options.stdin!, /^add table ip skiff\ndelete table ip skiff\ntable ip skiff \{/);
  assert.ok(table.applied);
});

Deno.test("NftTable.apply() that fails every way throws and forgets the previous model", async () => {
  const { exec } = recordingExec((cmd) => {
    if (cmd.includes("list")) return { stdout: '{"nftables": []}' };
    throw new Error("nft: Operation not permitted");
  });
  const table = new NftTable({ exec });
  await assert.rejects(table.apply(buildRuleset(state([web]))), /Operation not permitted/);
  assert.equal(table.applied, undefined);
});

Deno.test("NftTable() refuses an invalid namespace or table name, and a ruleset for another table", async () => {
  assert.throws(() => new NftTable({ netns: "a/b" }), /Invalid option "netns": "a\/b"/);
  assert.throws(() => new NftTable({ table: "1x" }), /Invalid option "table": "1x"/);
  const { exec } = recordingExec();
  await assert.rejects(
    new NftTable({ exec, table: "other" }).apply(buildRuleset(state([]))),
    /Cannot apply a ruleset for table "skiff" to table "other"/,
  );
});

const needs = requireTools(["ip", "nft"], { root: true });

const nft = (netns: string, lines: string[]) => run(["nft", "-f", "-"], { netns, stdin: lines.join("\n") + "\n" });

Deno.test({
  name:
    "NftTable in a network namespace keeps affinity memory across updates and full rewrites, and remove() deletes the table",
  ...needs,
  fn: async () => {
    const netns = `skiff-nftt-${crypto.randomUUID().slice(0, 8)}`;
    await run(["ip", "netns", "add", netns]);
    try {
      const table = new NftTable({ netns });
      assert.equal(await table.contents(), undefined);
      assert.equal((await table.apply(buildRuleset(state([web])))).mode, "full");
      const affinity = "aff-default/web/tcp/80__10.42.1.5/8080/10800s";
      await run(["nft", "add", "element", "ip", "skiff", affinity, "{ 10.42.2.9 }"], { netns });
      const remembered = async () =>
        (await run(["nft", "list", "set", "ip", "skiff", affinity], { netns })).stdout.includes("10.42.2.9");

      assert.equal((await table.apply(buildRuleset(state([withEndpoints("10.42.1.5", "10.42.1.6")])))).mode, "update");
      assert.ok(await remembered(), "an update keeps the affinity set's elements");
      const full = await table.apply(buildRuleset(state([withEndpoints("10.42.1.5", "10.42.1.6")])), { full: true });
      assert.equal(full.mode, "full");
      assert.ok(await remembered(), "a full rewrite keeps the affinity set's elements");

      // Someone changes the table behind its back: the next update fails and a full rewrite repairs it.
      const svc = "svc-default/web/tcp/80";
      await nft(netns, [
        "flush chain ip skiff services",
        "delete element ip skiff service-ips { 10.43.0.10 . tcp . 80 }",
        `flush chain ip skiff ${svc}`,
        `delete chain ip skiff ${svc}`,
        "add chain ip skiff stray",
      ]);
      const repaired = await table.apply(buildRuleset(state([withEndpoints("10.42.1.6")])));
      assert.equal(repaired.mode, "full");
      assert.match(repaired.fallbackReasons[0]!, /^update: Command "ip netns exec .* nft -f -" failed/);
      const contents = await table.contents();
      assert.ok(contents && !contents.chains.includes("stray"), "the full rewrite deleted a chain it does not want");
      assert.ok(!contents.sets.some((s) => s.name === affinity), "the affinity set of a gone endpoint is deleted");
      const { stdout } = await run(["nft", "list", "chain", "ip", "skiff", "services"], { netns });
      assert.match(stdout, /vmap @service-ips/);
      const svcRules = await run(["nft", "list", "chain", "ip", "skiff", svc], { netns });
      assert.match(svcRules.stdout, /goto ep-default\/web\/tcp\/80__10\.42\.1\.6\/8080/);

      assert.equal(await table.remove(), true);
      assert.equal(await table.remove(), false);
      assert.equal(await table.contents(), undefined);
    } finally {
      await run(["ip", "netns", "del", netns], { check: false });
    }
  },
});
