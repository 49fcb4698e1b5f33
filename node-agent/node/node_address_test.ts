import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "../hardware/mod.ts";
import { localAddressTowards, nodeAddresses, pickInternalIp } from "./node_address.ts";

const iface = (name: string, ipv4: string, isDefault: boolean): NetworkInterfaceInfo => ({
  name,
  mac: "",
  ipv4,
  ipv6: "",
  type: "wired",
  isDefault,
  internal: false,
  operstate: "up",
  speedMbps: null,
});

Deno.test("pickInternalIp() prefers --node-ip, then the route to the server, then the default interface", () => {
  const interfaces = [iface("wlan0", "192.168.1.50", false), iface("eth0", "192.168.1.41", true)];
  assert.equal(pickInternalIp({ nodeIp: "10.0.0.7", routeAddress: "192.168.1.41", interfaces }), "10.0.0.7");
  assert.equal(pickInternalIp({ routeAddress: "192.168.1.50", interfaces }), "192.168.1.50");
  assert.equal(pickInternalIp({ routeAddress: "127.0.0.1", interfaces }), "192.168.1.41");
  assert.equal(pickInternalIp({ interfaces: [iface("wlan0", "192.168.1.50", false)] }), "192.168.1.50");
  assert.equal(pickInternalIp({ routeAddress: "127.0.0.1", interfaces: [] }), "127.0.0.1");
  assert.throws(() => pickInternalIp({ interfaces: [] }), /pass --node-ip/);
  assert.throws(() => pickInternalIp({ nodeIp: "pi-3", interfaces }), /Invalid node IP "pi-3"/);
});

Deno.test("localAddressTowards() gives the local address of a connection to the server, or undefined", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept().then((conn) => conn.close(), () => {});
  try {
    const { port } = listener.addr as Deno.NetAddr;
    assert.equal(await localAddressTowards(`https://127.0.0.1:${port}`), "127.0.0.1");
    assert.equal(await localAddressTowards("https://in-process"), undefined);
  } finally {
    listener.close();
    await accepting;
  }
});

Deno.test("nodeAddresses() lists InternalIP then Hostname", () => {
  assert.deepEqual(nodeAddresses("192.168.1.41", "pi-4"), [
    { type: "InternalIP", address: "192.168.1.41" },
    { type: "Hostname", address: "pi-4" },
  ]);
});
