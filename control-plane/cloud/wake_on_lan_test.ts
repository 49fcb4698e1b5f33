import assert from "node:assert/strict";
import { magicPacket, parseMac } from "./wake_on_lan.ts";

Deno.test("magicPacket() is six 0xFF bytes then the MAC sixteen times", () => {
  const packet = magicPacket("DC:A6:32:12:34:5f");
  assert.equal(packet.length, 102);
  assert.deepEqual([...packet.subarray(0, 6)], [255, 255, 255, 255, 255, 255]);
  for (let i = 0; i < 16; i++) {
    assert.deepEqual([...packet.subarray(6 + i * 6, 12 + i * 6)], [0xdc, 0xa6, 0x32, 0x12, 0x34, 0x5f]);
  }
});

Deno.test("parseMac() accepts dashes and refuses what is not a card's address", () => {
  assert.deepEqual([...parseMac("7c-83-34-ab-cd-ef")], [0x7c, 0x83, 0x34, 0xab, 0xcd, 0xef]);
  assert.throws(() => parseMac("7c:83:34:ab:cd"), /Invalid MAC address "7c:83:34:ab:cd": expected six hex pairs/);
  assert.throws(() => parseMac("00:00:00:00:00:00"), /not a network card's address/);
  assert.throws(() => magicPacket("zz:83:34:ab:cd:ef"), /Invalid MAC address/);
});

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
}

const canUseNetns = Deno.uid() === 0 &&
  (await new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" }).output()
    .then((o) => o.success, () => false));

Deno.test({
  name: "sendWakeOnLan() broadcasts the magic packet that a listener on the LAN receives (in test namespaces)",
  ignore: !canUseNetns,
  sanitizeResources: false,
  fn: async () => {
    const tag = `${Deno.pid % 100000}${Math.floor(Math.random() * 100)}`;
    const sender = `skwol${tag}a`;
    const listener = `skwol${tag}b`;
    const subnet = `10.231.${Math.floor(Math.random() * 250)}`;
    const module = new URL("./wake_on_lan.ts", import.meta.url).href;
    let child: Deno.ChildProcess | undefined;
    try {
      await ip("netns", "add", sender);
      await ip("netns", "add", listener);
      await ip("-n", sender, "link", "add", "wol0", "type", "veth", "peer", "name", "wol1", "netns", listener);
      await ip("-n", sender, "addr", "add", `${subnet}.1/24`, "brd", "+", "dev", "wol0");
      await ip("-n", listener, "addr", "add", `${subnet}.2/24`, "brd", "+", "dev", "wol1");
      await ip("-n", sender, "link", "set", "wol0", "up");
      await ip("-n", listener, "link", "set", "wol1", "up");
      // The listener: a UDP socket on port 9 in the other namespace, printing the first datagram in hex.
      child = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          listener,
          Deno.execPath(),
          "eval",
          `import { createSocket } from "node:dgram";
           const s = createSocket("udp4");
           s.on("message", (m) => { console.log(Buffer.from(m).toString("hex")); s.close(); });
           s.bind(9, "0.0.0.0", () => console.log("ready"));`,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      const nextLine = async () => {
        while (!seen.includes("\n")) {
          const { value, done } = await lines.read();
          if (done) throw new Error("The listener ended early");
          seen += value;
        }
        const [line = "", ...rest] = seen.split("\n");
        seen = rest.join("\n");
        return line.trim();
      };
      assert.equal(await nextLine(), "ready");
      const send = await new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          sender,
          Deno.execPath(),
          "eval",
          `import { sendWakeOnLan } from "${module}";
           await sendWakeOnLan("dc:a6:32:12:34:56", { address: "${subnet}.255", copies: 1 });`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(send.success, new TextDecoder().decode(send.stderr));
      const received = await nextLine();
      assert.equal(received, "ff".repeat(6) + "dca632123456".repeat(16));
      assert.equal(
        received,
        [...magicPacket("dc:a6:32:12:34:56")].map((b) => b.toString(16).padStart(2, "0")).join(""),
      );
      await lines.cancel();
      await child.status;
      child = undefined;
    } finally {
      if (child) {
        child.kill("SIGKILL");
        await child.status;
      }
      await ip("netns", "del", sender).catch(() => {});
      await ip("netns", "del", listener).catch(() => {});
    }
  },
});
