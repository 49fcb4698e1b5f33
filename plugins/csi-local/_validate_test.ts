import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import type { VolumeCapability } from "./csi_types.ts";
import { RpcError } from "./_rpc_error.ts";
import {
  BLOCK_BYTES,
  capacityFits,
  checkAccessibility,
  checkCapabilities,
  checkCapability,
  checkName,
  checkNodeId,
  DEFAULT_CAPACITY_BYTES,
  MIN_IMAGE_BYTES,
  publishFlags,
  resolveCapacity,
  TOPOLOGY_KEY,
} from "./_validate.ts";

const MIB = 1024 * 1024;
const FREE = 100 * 1024 * MIB;

function rpcCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof RpcError, String(error));
    return status[error.code];
  }
  return undefined;
}

const mount = (mode: string, extra: Partial<VolumeCapability["mount"]> = {}) =>
  ({
    mount: { fsType: "", mountFlags: [], ...extra },
    accessMode: { mode },
  }) as VolumeCapability;

Deno.test("resolveCapacity() gives the request rounded up to blocks within the limit, or 1 GiB when none is given", () => {
  assert.equal(resolveCapacity(undefined, { kind: "directory", freeBytes: FREE }), DEFAULT_CAPACITY_BYTES);
  assert.equal(
    resolveCapacity({ requiredBytes: 10 * MIB + 1 }, { kind: "directory", freeBytes: FREE }),
    10 * MIB + BLOCK_BYTES,
  );
  assert.equal(
    resolveCapacity({ limitBytes: 64 * MIB }, { kind: "ext4-image", freeBytes: FREE }),
    64 * MIB,
  );
  assert.equal(
    resolveCapacity({ requiredBytes: MIB }, { kind: "ext4-image", freeBytes: FREE }),
    MIN_IMAGE_BYTES,
  );
  assert.equal(
    resolveCapacity(
      { requiredBytes: 16 * MIB + 1, limitBytes: 16 * MIB + 100 },
      { kind: "directory", freeBytes: FREE },
    ),
    16 * MIB + 1,
  );
});

Deno.test("resolveCapacity() fails with OUT_OF_RANGE when no size fits and INVALID_ARGUMENT for negative bounds", () => {
  assert.equal(
    rpcCode(() => resolveCapacity({ requiredBytes: 2 * MIB, limitBytes: MIB }, { kind: "directory", freeBytes: FREE })),
    "OUT_OF_RANGE",
  );
  assert.equal(
    rpcCode(() => resolveCapacity({ limitBytes: MIB }, { kind: "ext4-image", freeBytes: FREE })),
    "OUT_OF_RANGE",
  );
  assert.equal(
    rpcCode(() => resolveCapacity({ requiredBytes: 2 * FREE }, { kind: "directory", freeBytes: FREE })),
    "OUT_OF_RANGE",
  );
  assert.equal(
    rpcCode(() => resolveCapacity({ requiredBytes: -1 }, { kind: "directory", freeBytes: FREE })),
    "INVALID_ARGUMENT",
  );
});

Deno.test("capacityFits() accepts an existing size within the range", () => {
  assert.equal(capacityFits(16 * MIB, { requiredBytes: 16 * MIB }), true);
  assert.equal(capacityFits(16 * MIB, { requiredBytes: 8 * MIB, limitBytes: 16 * MIB }), true);
  assert.equal(capacityFits(16 * MIB, { requiredBytes: 32 * MIB }), false);
  assert.equal(capacityFits(16 * MIB, { limitBytes: 8 * MIB }), false);
  assert.equal(capacityFits(16 * MIB, undefined), true);
});

Deno.test("checkCapability() accepts single-node mounts and explains what it cannot honour", () => {
  const ok = checkCapability(mount("SINGLE_NODE_WRITER", { mountFlags: ["noatime"] }), {
    field: "c",
    kind: "directory",
  });
  assert.deepEqual(ok, { mode: "SINGLE_NODE_WRITER", fsType: "", mountFlags: ["noatime"] });
  assert.match(
    String(checkCapability(mount("MULTI_NODE_MULTI_WRITER"), { field: "c", kind: "directory" })),
    /one node/,
  );
  assert.match(
    String(
      checkCapability({ block: {}, accessMode: { mode: "SINGLE_NODE_WRITER" } }, { field: "c", kind: "directory" }),
    ),
    /block access/,
  );
  assert.match(
    String(checkCapability(mount("SINGLE_NODE_WRITER", { fsType: "ext4" }), { field: "c", kind: "directory" })),
    /fs_type "ext4"/,
  );
  assert.equal(
    typeof checkCapability(mount("SINGLE_NODE_WRITER", { fsType: "ext4" }), { field: "c", kind: "ext4-image" }),
    "object",
  );
  assert.match(
    String(
      checkCapability(mount("SINGLE_NODE_WRITER", { mountFlags: ["suid,dev"] }), { field: "c", kind: "directory" }),
    ),
    /mount flag/,
  );
  assert.match(
    String(
      checkCapability(mount("SINGLE_NODE_WRITER", { volumeMountGroup: "100" }), { field: "c", kind: "directory" }),
    ),
    /volume_mount_group/,
  );
});

Deno.test("checkCapability() rejects a malformed capability with INVALID_ARGUMENT naming the field", () => {
  assert.throws(
    () => checkCapability(undefined, { field: "volume_capability", kind: "directory" }),
    /"volume_capability"/,
  );
  assert.throws(
    () => checkCapability({ mount: {} }, { field: "volume_capability", kind: "directory" }),
    /"volume_capability.access_mode"/,
  );
  assert.throws(
    () =>
      checkCapability({ mount: {}, accessMode: { mode: "UNKNOWN" } }, {
        field: "volume_capability",
        kind: "directory",
      }),
    /"volume_capability.access_mode.mode"/,
  );
  assert.throws(
    () =>
      checkCapability({ accessMode: { mode: "SINGLE_NODE_WRITER" } }, {
        field: "volume_capability",
        kind: "directory",
      }),
    /"volume_capability.access_type"/,
  );
  assert.throws(
    () => checkCapabilities([], { field: "volume_capabilities", kind: "directory" }),
    /"volume_capabilities"/,
  );
});

Deno.test("publishFlags() makes reader-only modes and ro flags read-only", () => {
  const writer = { mode: "SINGLE_NODE_WRITER" as const, fsType: "", mountFlags: ["nosuid", "rw"] };
  assert.deepEqual(publishFlags(false, writer), { readonly: false, flags: ["rw", "nosuid"] });
  assert.deepEqual(publishFlags(true, writer), { readonly: true, flags: ["ro", "nosuid"] });
  assert.deepEqual(
    publishFlags(false, { mode: "SINGLE_NODE_READER_ONLY", fsType: "", mountFlags: [] }),
    { readonly: true, flags: ["ro"] },
  );
});

Deno.test("checkName() enforces presence, 128 bytes and no control characters", () => {
  assert.equal(checkName("pvc-1"), "pvc-1");
  assert.equal(checkName("x".repeat(128)), "x".repeat(128));
  assert.throws(() => checkName(""), /"name"/);
  assert.throws(() => checkName("x".repeat(129)), /128 byte limit/);
  assert.throws(() => checkName("bad\u0001name"), /U\+0001/);
});

Deno.test("checkAccessibility() allows this node and refuses others with RESOURCE_EXHAUSTED", () => {
  checkAccessibility(undefined, "pi-1");
  checkAccessibility({ preferred: [{ segments: { [TOPOLOGY_KEY]: "pi-2" } }] }, "pi-1");
  checkAccessibility(
    { requisite: [{ segments: { [TOPOLOGY_KEY]: "pi-2" } }, { segments: { [TOPOLOGY_KEY]: "pi-1" } }] },
    "pi-1",
  );
  assert.equal(
    rpcCode(() => checkAccessibility({ requisite: [{ segments: { [TOPOLOGY_KEY]: "pi-2" } }] }, "pi-1")),
    "RESOURCE_EXHAUSTED",
  );
});

Deno.test("checkNodeId() accepts topology-safe ids only", () => {
  assert.equal(checkNodeId("pi-3.lab"), "pi-3.lab");
  assert.throws(() => checkNodeId(""), TypeError);
  assert.throws(() => checkNodeId("-pi"), /Invalid node id "-pi"/);
  assert.throws(() => checkNodeId("a/b"), TypeError);
});
