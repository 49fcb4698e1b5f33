import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { join } from "node:path";
import type { VolumeCapability } from "./csi_types.ts";
import * as exec from "./_exec.ts";
import { LocalVolumes, volumeIdFor } from "./_local_volumes.ts";
import { mountAt } from "./_mountinfo.ts";
import { RpcError } from "./_rpc_error.ts";
import { TOPOLOGY_KEY, type VolumeKind } from "./_validate.ts";
import { releaseCsiLocalMounts } from "./release_mounts.ts";

const MIB = 1024 * 1024;
const LOOP_AVAILABLE = await Deno.stat("/dev/loop-control").then(
  () => true,
  () => false,
);
const IN_CI = Deno.env.get("CI") === "true";
if (!LOOP_AVAILABLE) {
  console.warn(
    `Loop devices are unavailable here (/dev/loop-control is missing): ext4-image volume tests ${
      IN_CI ? "fail (CI=true)" : "are ignored"
    }`,
  );
}

const RW: VolumeCapability = {
  mount: { fsType: "", mountFlags: [] },
  accessMode: { mode: "SINGLE_NODE_WRITER" },
};

interface Lab {
  volumes: LocalVolumes;
  dataDir: string;
  work: string;
  logs: string[];
  restart(): Promise<LocalVolumes>;
}

function lab(
  name: string,
  { kind, maxVolumes }: { kind: VolumeKind; maxVolumes?: number },
  fn: (lab: Lab) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: kind === "ext4-image" && !LOOP_AVAILABLE && !IN_CI,
    fn: async () => {
      if (kind === "ext4-image" && !LOOP_AVAILABLE) {
        throw new Error(
          "Loop devices are unavailable: /dev/loop-control is missing, so size-enforced volumes cannot be tested (load the loop module)",
        );
      }
      const root = await Deno.realPath(
        await Deno.makeTempDir({ prefix: "skiff-csi-local-" }),
      );
      const dataDir = join(root, "data");
      const work = join(root, "work");
      await Deno.mkdir(dataDir);
      await Deno.mkdir(work);
      const logs: string[] = [];
      const make = async () => {
        const volumes = new LocalVolumes({
          dataDir,
          nodeId: "node-a",
          kind,
          maxVolumes,
          log: (line) => logs.push(line),
        });
        await volumes.start();
        return volumes;
      };
      try {
        const current: Lab = {
          volumes: await make(),
          dataDir,
          work,
          logs,
          restart: async () => (current.volumes = await make()),
        };
        await fn(current);
      } finally {
        await releaseCsiLocalMounts(dataDir, { targetRoots: [work] });
        await Deno.remove(root, { recursive: true });
      }
    },
  });
}

async function rejectsWith(
  call: Promise<unknown>,
  code: status,
  pattern?: RegExp,
): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(status[error.code], status[code], error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

async function create(volumes: LocalVolumes, name: string, bytes = 16 * MIB) {
  const response = await volumes.createVolume({
    name,
    capacityRange: { requiredBytes: bytes, limitBytes: bytes },
    volumeCapabilities: [RW],
  });
  const id = response.volume?.volumeId;
  assert.ok(id);
  return id;
}

async function loopDevicesOf(image: string): Promise<string[]> {
  return (await exec.listLoopDevices())
    .filter((loop) => loop.backingFile === image)
    .map((loop) => loop.device);
}

/** Bytes allocated on the host to every file below `dir`. */
async function allocatedBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    const info = await Deno.lstat(path);
    total += (info.blocks ?? 0) * 512;
    if (entry.isDirectory) total += await allocatedBytes(path);
  }
  return total;
}

lab("LocalVolumes keeps volumes, publications and data across a restart", { kind: "directory" }, async (lab) => {
  const id = await create(lab.volumes, "keep");
  assert.equal(id, volumeIdFor("keep"));
  const target = join(lab.work, "pod-1");
  await lab.volumes.nodePublishVolume({ volumeId: id, targetPath: target, volumeCapability: RW });
  await Deno.writeTextFile(join(target, "note.txt"), "still here");

  const volumes = await lab.restart();
  const listed = await volumes.listVolumes({});
  assert.deepEqual(listed.entries?.map((e) => e.volume?.volumeId), [id]);
  await volumes.nodePublishVolume({ volumeId: id, targetPath: target, volumeCapability: RW });
  const stats = await volumes.nodeGetVolumeStats({ volumeId: id, volumePath: target });
  assert.ok(stats.usage?.some((u) => u.unit === "BYTES" && (u.total ?? 0) > 0));
  await volumes.nodeUnpublishVolume({ volumeId: id, targetPath: target });
  assert.equal(await mountAt(target), undefined);

  const again = join(lab.work, "pod-2");
  await volumes.nodePublishVolume({ volumeId: id, targetPath: again, volumeCapability: RW });
  assert.equal(await Deno.readTextFile(join(again, "note.txt")), "still here");
  await volumes.nodeUnpublishVolume({ volumeId: id, targetPath: again });
  await volumes.deleteVolume({ volumeId: id });
  assert.deepEqual((await volumes.listVolumes({})).entries, []);
});

lab(
  "LocalVolumes forgets a publication whose mount vanished and releases the image on restart",
  { kind: "ext4-image" },
  async (lab) => {
    const id = await create(lab.volumes, "vanish");
    const image = join(lab.dataDir, "volumes", `${id}.img`);
    const target = join(lab.work, "pod");
    await lab.volumes.nodePublishVolume({ volumeId: id, targetPath: target, volumeCapability: RW });
    assert.equal((await loopDevicesOf(image)).length, 1);

    await exec.unmount(target);
    const volumes = await lab.restart();
    assert.ok(lab.logs.some((line) => line.includes("no longer mounted")));
    assert.equal(await mountAt(join(lab.dataDir, "mounts", id)), undefined);
    assert.deepEqual(await loopDevicesOf(image), []);
    await volumes.deleteVolume({ volumeId: id });
  },
);

lab("a 16 MiB ext4-image volume refuses a 32 MiB write with ENOSPC and the host keeps only the sparse file", {
  kind: "ext4-image",
}, async (lab) => {
  const id = await create(lab.volumes, "full", 16 * MIB);
  const image = join(lab.dataDir, "volumes", `${id}.img`);
  assert.equal((await Deno.stat(image)).size, 16 * MIB);
  const target = join(lab.work, "pod");
  await lab.volumes.nodePublishVolume({ volumeId: id, targetPath: target, volumeCapability: RW });

  const file = await Deno.open(join(target, "fill.bin"), { write: true, create: true });
  const chunk = new Uint8Array(MIB).fill(0x5a);
  let written = 0;
  let failure: unknown;
  try {
    while (written < 32 * MIB) written += await file.write(chunk);
    await file.sync();
  } catch (error) {
    failure = error;
  } finally {
    file.close();
  }
  assert.equal((failure as { code?: string } | undefined)?.code, "ENOSPC", String(failure));
  assert.ok(written < 16 * MIB, `wrote ${written} bytes`);

  await lab.volumes.nodeUnpublishVolume({ volumeId: id, targetPath: target });
  assert.equal((await Deno.stat(image)).size, 16 * MIB);
  const imageBytes = ((await Deno.stat(image)).blocks ?? 0) * 512;
  assert.ok(imageBytes <= 16 * MIB, `the image holds ${imageBytes} bytes`);
  const hostBytes = await allocatedBytes(lab.dataDir);
  assert.ok(hostBytes <= 16 * MIB + 64 * 1024, `the data dir holds ${hostBytes} bytes`);
  await lab.volumes.deleteVolume({ volumeId: id });
});

lab(
  "DeleteVolume of a published volume fails with FAILED_PRECONDITION; after unpublishing it removes the image and its loop device",
  { kind: "ext4-image" },
  async (lab) => {
    const id = await create(lab.volumes, "busy");
    const image = join(lab.dataDir, "volumes", `${id}.img`);
    const target = join(lab.work, "pod");
    await lab.volumes.nodePublishVolume({ volumeId: id, targetPath: target, volumeCapability: RW });
    await rejectsWith(lab.volumes.deleteVolume({ volumeId: id }), status.FAILED_PRECONDITION, /in use/);

    await lab.volumes.nodeUnpublishVolume({ volumeId: id, targetPath: target });
    assert.deepEqual(await loopDevicesOf(image), []);
    assert.equal(await mountAt(join(lab.dataDir, "mounts", id)), undefined);
    await lab.volumes.deleteVolume({ volumeId: id });
    await assert.rejects(Deno.stat(image), Deno.errors.NotFound);
    await lab.volumes.deleteVolume({ volumeId: id });
  },
);

lab(
  "an ext4-image volume's root is writable by every user and reports its own size",
  { kind: "ext4-image" },
  async (lab) => {
    const id = await create(lab.volumes, "open", 32 * MIB);
    const target = join(lab.work, "pod");
    await lab.volumes.nodePublishVolume({ volumeId: id, targetPath: target, volumeCapability: RW });
    assert.equal((await Deno.stat(target)).mode! & 0o777, 0o777);
    const stats = await lab.volumes.nodeGetVolumeStats({ volumeId: id, volumePath: target });
    const bytes = stats.usage?.find((u) => u.unit === "BYTES");
    assert.ok(bytes && (bytes.total ?? 0) <= 32 * MIB && (bytes.total ?? 0) > 16 * MIB);
    await lab.volumes.nodeUnpublishVolume({ volumeId: id, targetPath: target });
  },
);

lab("CreateVolume refuses another node's topology, volumes past maxVolumes and missing fields", {
  kind: "directory",
  maxVolumes: 2,
}, async (lab) => {
  const { volumes } = lab;
  await rejectsWith(
    volumes.createVolume({
      name: "elsewhere",
      volumeCapabilities: [RW],
      accessibilityRequirements: { requisite: [{ segments: { [TOPOLOGY_KEY]: "node-b" } }] },
    }),
    status.RESOURCE_EXHAUSTED,
    /node-a/,
  );
  const here = await volumes.createVolume({
    name: "here",
    volumeCapabilities: [RW],
    accessibilityRequirements: { requisite: [{ segments: { [TOPOLOGY_KEY]: "node-a" } }] },
  });
  assert.deepEqual(here.volume?.accessibleTopology, [{ segments: { [TOPOLOGY_KEY]: "node-a" } }]);
  await create(volumes, "second");
  await rejectsWith(
    volumes.createVolume({ name: "third", volumeCapabilities: [RW] }),
    status.RESOURCE_EXHAUSTED,
    /max-volumes 2/,
  );
  await create(volumes, "second");
  await rejectsWith(volumes.createVolume({ volumeCapabilities: [RW] }), status.INVALID_ARGUMENT, /"name"/);
  await rejectsWith(volumes.createVolume({ name: "x" }), status.INVALID_ARGUMENT, /"volume_capabilities"/);
  await rejectsWith(
    volumes.createVolume({ name: "x", volumeCapabilities: [RW], parameters: { fast: "yes" } }),
    status.INVALID_ARGUMENT,
    /"parameters".*"fast"/,
  );
  await rejectsWith(
    volumes.createVolume({
      name: "x",
      volumeCapabilities: [{ block: {}, accessMode: { mode: "SINGLE_NODE_WRITER" } }],
    }),
    status.INVALID_ARGUMENT,
    /block access/,
  );
});

lab("NodePublishVolume at a second target fails for SINGLE_NODE_WRITER and works for SINGLE_NODE_MULTI_WRITER", {
  kind: "directory",
}, async (lab) => {
  const { volumes } = lab;
  const id = await create(volumes, "shared");
  const first = join(lab.work, "a");
  const second = join(lab.work, "b");
  await volumes.nodePublishVolume({ volumeId: id, targetPath: first, volumeCapability: RW });
  await rejectsWith(
    volumes.nodePublishVolume({ volumeId: id, targetPath: second, volumeCapability: RW }),
    status.FAILED_PRECONDITION,
    /already published at/,
  );
  assert.equal(await mountAt(second), undefined);
  await volumes.nodeUnpublishVolume({ volumeId: id, targetPath: first });

  const multi: VolumeCapability = { mount: {}, accessMode: { mode: "SINGLE_NODE_MULTI_WRITER" } };
  await volumes.nodePublishVolume({ volumeId: id, targetPath: first, volumeCapability: multi });
  await volumes.nodePublishVolume({ volumeId: id, targetPath: second, volumeCapability: multi });
  await Deno.writeTextFile(join(first, "x"), "seen by both");
  assert.equal(await Deno.readTextFile(join(second, "x")), "seen by both");
  await volumes.nodeUnpublishVolume({ volumeId: id, targetPath: first });
  await volumes.nodeUnpublishVolume({ volumeId: id, targetPath: second });
});

lab(
  "NodePublishVolume applies mount flags and NodeUnpublishVolume leaves a foreign mount alone",
  { kind: "directory" },
  async (lab) => {
    const { volumes } = lab;
    const id = await create(volumes, "flags");
    const target = join(lab.work, "pod");
    await volumes.nodePublishVolume({
      volumeId: id,
      targetPath: target,
      volumeCapability: { mount: { mountFlags: ["nosuid", "noexec"] }, accessMode: { mode: "SINGLE_NODE_WRITER" } },
    });
    const options = (await mountAt(target))?.options ?? [];
    assert.ok(options.includes("nosuid") && options.includes("noexec") && options.includes("rw"), options.join(","));
    await volumes.nodeUnpublishVolume({ volumeId: id, targetPath: target });

    const foreign = join(lab.work, "foreign");
    const other = join(lab.work, "other-data");
    await Deno.mkdir(foreign);
    await Deno.mkdir(other);
    await exec.bindMount(other, foreign);
    await rejectsWith(
      volumes.nodeUnpublishVolume({ volumeId: id, targetPath: foreign }),
      status.FAILED_PRECONDITION,
      /something else is mounted/,
    );
    assert.ok(await mountAt(foreign));
    await rejectsWith(
      volumes.nodePublishVolume({ volumeId: id, targetPath: foreign, volumeCapability: RW }),
      status.FAILED_PRECONDITION,
      /something else is mounted/,
    );
    assert.deepEqual((await volumes.listVolumes({})).entries?.length, 1);
  },
);

lab(
  "LocalVolumes refuses to start on a corrupt volume record and reports data without a record",
  { kind: "directory" },
  async (lab) => {
    const id = await create(lab.volumes, "corrupt");
    const stray = join(lab.dataDir, "volumes", "0123456789abcdef0123456789abcdef");
    await Deno.mkdir(stray);
    await lab.restart();
    assert.ok(lab.logs.some((line) => line.includes(`"${stray}" has no volume record`)));

    const record = join(lab.dataDir, "volumes", `${id}.json`);
    await Deno.writeTextFile(record, "{ not json");
    await assert.rejects(
      lab.restart(),
      (error: unknown) => {
        assert.match(String(error), /Cannot read volume record ".*\.json": .*restore or remove it/);
        return true;
      },
    );
  },
);
