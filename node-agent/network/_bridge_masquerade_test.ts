import assert from "node:assert/strict";
import { bridgeMasqueradeChain, removeBridgeMasquerade, tokenize } from "./_bridge_masquerade.ts";
import { recordingExec } from "./_test_support.ts";

const CHAIN_A = bridgeMasqueradeChain("skiff", "abc");
const CHAIN_B = bridgeMasqueradeChain("skiff", "def");

Deno.test("bridgeMasqueradeChain() names the chain as the bridge plugin does", () => {
  assert.equal(CHAIN_A, "CNI-92822b251973330bfad25207");
});

Deno.test("tokenize() splits an iptables -S line, unquoting the comment", () => {
  assert.deepEqual(
    tokenize(`-A POSTROUTING -s 10.42.3.2/32 -m comment --comment "name: \\"skiff\\" id: \\"abc\\"" -j ${CHAIN_A}`),
    ["-A", "POSTROUTING", "-s", "10.42.3.2/32", "-m", "comment", "--comment", 'name: "skiff" id: "abc"', "-j", CHAIN_A],
  );
  assert.deepEqual(tokenize(""), []);
});

Deno.test("removeBridgeMasquerade() removes the rules and chains of the container ids asked, and only those", async () => {
  const comment = (id: string) => `"name: \\"skiff\\" id: \\"${id}\\""`;
  const table = [
    "-P POSTROUTING ACCEPT",
    `-N ${CHAIN_A}`,
    `-N ${CHAIN_B}`,
    `-A POSTROUTING -s 10.42.3.2/32 -m comment --comment ${comment("abc")} -j ${CHAIN_A}`,
    `-A POSTROUTING -s 10.42.3.9/32 -m comment --comment ${comment("abc")} -j ${CHAIN_A}`,
    `-A POSTROUTING -s 10.42.3.3/32 -m comment --comment ${comment("def")} -j ${CHAIN_B}`,
    `-A ${CHAIN_A} -d 10.42.3.0/24 -m comment --comment ${comment("abc")} -j ACCEPT`,
    `-A ${CHAIN_B} -d 10.42.3.0/24 -m comment --comment ${comment("def")} -j ACCEPT`,
    `-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"skiff\\" id: \\"abc\\"" -j CNI-DN-x`,
  ].join("\n");
  const { exec, commands } = recordingExec((cmd) => cmd.includes("-S") ? { stdout: table + "\n" } : {});
  const removed = await removeBridgeMasquerade({ exec, netns: "n1", network: "skiff" }, (id) => id === "abc");
  assert.deepEqual(removed, [CHAIN_A]);
  const nat = ["iptables", "-w", "-t", "nat"];
  assert.deepEqual(commands.map((c) => c.cmd), [
    [...nat, "-S"],
    [
      ...nat,
      "-D",
      "POSTROUTING",
      "-s",
      "10.42.3.2/32",
      "-m",
      "comment",
      "--comment",
      'name: "skiff" id: "abc"',
      "-j",
      CHAIN_A,
    ],
    [
      ...nat,
      "-D",
      "POSTROUTING",
      "-s",
      "10.42.3.9/32",
      "-m",
      "comment",
      "--comment",
      'name: "skiff" id: "abc"',
      "-j",
      CHAIN_A,
    ],
    [...nat, "-F", CHAIN_A],
    [...nat, "-X", CHAIN_A],
  ]);
  assert.ok(commands.every((c) => c.options.netns === "n1"));
});
