import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "@skiff/api";
import { copyFixture, FIXTURE_INTERFACES, fixtureRoots } from "./_testdata.ts";
import { networkFingerprinter, parseNetDev } from "./network.ts";

Deno.test("networkFingerprinter() counts bytes per interface and tells physical ones from bridges and veths", async () => {
  const network = networkFingerprinter({
    roots: fixtureRoots("pi4"),
    listInterfaces: () => Promise.resolve(FIXTURE_INTERFACES.pi4),
  });
  const reading = await network.read();
  assert.deepEqual(
    reading.counters.map((c) => [c.name, c.physical]),
    [["lo", false], ["eth0", true], ["wlan0", true], ["cni0", false], ["vethab12cd34", false]],
  );
  assert.equal(reading.counters[1]?.rxBytes, 1048576000);
  assert.equal(reading.counters[1]?.txBytes, 209715200);
  assert.equal(reading.interfaces[0]?.mac, "dc:a6:32:12:34:56");
  assert.equal(reading.rxBytesPerSecond, null);
});

Deno.test("networkFingerprinter() reports rates over physical interfaces between two samples", async () => {
  await using fixture = copyFixture("pi4");
  const clock = new ManualClock();
  const network = networkFingerprinter({ roots: fixture.roots, clock, listInterfaces: () => Promise.resolve([]) });
  await network.read();
  const path = join(fixture.roots.proc, "net", "dev");
  const text = await Deno.readTextFile(path);
  // eth0 received 10 MB and sent 1 MB; the bridge and veth moved traffic that must not count twice.
  await Deno.writeTextFile(
    path,
    text.replace("1048576000", "1058576000").replace("209715200", "210715200").replaceAll("52428800", "99999999"),
  );
  await clock.advance(10_000);
  const reading = await network.read();
  assert.equal(reading.rxBytesPerSecond, 1_000_000);
  assert.equal(reading.txBytesPerSecond, 100_000);
});

Deno.test("networkFingerprinter() lists interfaces first, on full reads and when the list is stale", async () => {
  const clock = new ManualClock();
  let listings = 0;
  const network = networkFingerprinter({
    roots: fixtureRoots("minipc"),
    clock,
    interfacesPeriodMs: 60_000,
    listInterfaces: () => {
      listings++;
      return Promise.resolve(FIXTURE_INTERFACES.minipc);
    },
  });
  const first = await network.read();
  await network.read();
  assert.equal(listings, 1);
  await network.read({ full: true });
  assert.equal(listings, 2);
  await clock.advance(60_000);
  const later = await network.read();
  assert.equal(listings, 3);
  assert.equal(later.interfacesAt, clock.now());
  assert.ok(first.interfacesAt < later.interfacesAt);
});

Deno.test("networkFingerprinter() keeps counting when listing interfaces fails, and says why", async () => {
  const network = networkFingerprinter({
    roots: fixtureRoots("minipc"),
    listInterfaces: () => Promise.reject(new Error("ip: not found")),
  });
  const reading = await network.read();
  assert.equal(reading.interfacesError, "Cannot list network interfaces: ip: not found");
  assert.deepEqual(reading.interfaces, []);
  assert.equal(reading.counters.find((c) => c.name === "enp1s0")?.rxBytes, 53687091200);
});

Deno.test("parseNetDev() skips the header lines", () => {
  const counters = parseNetDev(Deno.readTextFileSync(`${fixtureRoots("minipc").proc}/net/dev`));
  assert.deepEqual(counters.map((c) => c.name), ["lo", "enp1s0", "wlp2s0", "docker0"]);
});
