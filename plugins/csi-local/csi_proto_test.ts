import assert from "node:assert/strict";
import * as protoLoader from "@grpc/proto-loader";
import type * as grpc from "@grpc/grpc-js";
import { CSI_LOADER_OPTIONS, CSI_PROTO_PATH, loadCsiPackage } from "./csi_proto.ts";
import { CSI_PROTO_SOURCE } from "./_csi_proto_source.ts";

Deno.test("CSI_PROTO_SOURCE is csi.proto, byte for byte (else run `deno run -A tools/gen_csi_proto.ts`)", async () => {
  assert.equal(CSI_PROTO_SOURCE, await Deno.readTextFile(CSI_PROTO_PATH));
});

Deno.test("loadCsiPackage() gives the services and messages that loading csi.proto from disk gives", () => {
  const fromFile = protoLoader.loadSync(CSI_PROTO_PATH, CSI_LOADER_OPTIONS);
  const embedded = loadCsiPackage();
  for (const name of ["Identity", "Controller", "Node"] as const) {
    const expected = fromFile[`csi.v1.${name}`] as protoLoader.ServiceDefinition;
    const actual = embedded[name].service as grpc.ServiceDefinition & protoLoader.ServiceDefinition;
    assert.deepEqual(Object.keys(actual), Object.keys(expected), name);
    for (const [method, definition] of Object.entries(expected)) {
      const got = actual[method]!;
      assert.equal(got.path, definition.path);
      assert.equal(got.requestStream, definition.requestStream);
      assert.equal(got.responseStream, definition.responseStream);
      assert.deepEqual(got.requestType.type, definition.requestType.type, `${method} request`);
      assert.deepEqual(got.responseType.type, definition.responseType.type, `${method} response`);
    }
  }
});

Deno.test("loadCsiPackage() encodes and decodes a request as the file-loaded protocol does", () => {
  const fromFile = protoLoader.loadSync(CSI_PROTO_PATH, CSI_LOADER_OPTIONS);
  const expected = (fromFile["csi.v1.Controller"] as protoLoader.ServiceDefinition)["CreateVolume"]!;
  const actual = loadCsiPackage().Controller.service["CreateVolume"]!;
  const request = {
    name: "pvc-1",
    capacityRange: { requiredBytes: 1048576, limitBytes: 0 },
    volumeCapabilities: [{ mount: { fsType: "ext4", mountFlags: [] }, accessMode: { mode: "SINGLE_NODE_WRITER" } }],
    parameters: { tier: "fast" },
  };
  const bytes = actual.requestSerialize(request);
  assert.deepEqual(bytes, expected.requestSerialize(request));
  assert.deepEqual(actual.requestDeserialize(bytes), expected.requestDeserialize(bytes));
});
