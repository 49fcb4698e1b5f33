import assert from "node:assert/strict";
import { machineSans, parseSan, sanKey } from "./_sans.ts";

Deno.test("parseSan() tells addresses from DNS names and normalizes both", () => {
  assert.deepEqual(parseSan("10.0.0.1"), { type: "ip", value: "10.0.0.1" });
  assert.deepEqual(parseSan(" [::1] "), { type: "ip", value: "::1" });
  assert.deepEqual(parseSan("FD00:0:0::1"), { type: "ip", value: "fd00::1" });
  assert.deepEqual(parseSan("::ffff:192.168.1.5"), { type: "ip", value: "::ffff:c0a8:105" });
  assert.deepEqual(parseSan("Skiff.LAN."), { type: "dns", value: "skiff.lan" });
  assert.deepEqual(parseSan("*.apps.lan"), { type: "dns", value: "*.apps.lan" });
  assert.deepEqual(parseSan("pi-3"), { type: "dns", value: "pi-3" });
});

Deno.test("parseSan() refuses what is neither, naming it", () => {
  for (const bad of ["", "under_score", "-lead.lan", "1.2.3", "010.0.0.1", "a..b", "host name", "x".repeat(64)]) {
    assert.throws(() => parseSan(bad), { name: "TypeError", message: /Invalid subject alternative name/ }, bad);
  }
  assert.throws(() => parseSan("fe80::1%eth0"), { message: /"fe80::1%eth0": an IP address with a zone index/ });
});

Deno.test("machineSans() has the loopback names and no link-local address", () => {
  const keys = machineSans().map(sanKey);
  for (const want of ["dns:localhost", "ip:127.0.0.1", "ip:::1"]) assert.ok(keys.includes(want), want);
  assert.ok(!keys.some((k) => k.startsWith("ip:fe80:") || k.startsWith("ip:169.254.")), `${keys}`);
});
