import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "../hardware/mod.ts";
import { checkExternalIp, localAddressTowards, nodeAddresses, pickInternalIp } from "./node_address.ts";

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

Deno.test("nodeAddresses() puts a configured ExternalIP between InternalIP and Hostname, IPv4 or IPv6", () => {
  assert.deepEqual(nodeAddresses("192.168.1.41", "pi-4", { externalIp: "203.0.113.7" }), [
    { type: "InternalIP", address: "192.168.1.41" },
    { type: "ExternalIP", address: "203.0.113.7" },
    { type: "Hostname", address: "pi-4" },
  ]);
  assert.deepEqual(
    nodeAddresses("192.168.1.41", "pi-4", { externalIp: "2001:db8::7" }).find((a) => a.type === "ExternalIP"),
    { type: "ExternalIP", address: "2001:db8::7" },
  );
  assert.equal(nodeAddresses("192.168.1.41", "pi-4", {}).some((a) => a.type === "ExternalIP"), false);
});

Deno.test("checkExternalIp() refuses what is not an IP literal, naming --node-external-ip", () => {
  assert.equal(checkExternalIp("203.0.113.7"), "203.0.113.7");
  for (const bad of ["pi-4.example.org", "203.0.113.256", "203.0.113.7/32", "", " 203.0.113.7"]) {
    assert.throws(
      () => checkExternalIp(bad),
      (error: Error) =>
        error instanceof TypeError && error.message.startsWith(`Invalid --node-external-ip "${bad}": not an IPv4`),
    );
  }
  assert.throws(() => nodeAddresses("192.168.1.41", "pi-4", { externalIp: "home.example.org" }), /--node-external-ip/);
});
