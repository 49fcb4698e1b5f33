import assert from "node:assert/strict";
import { parse } from "yaml";
import { BadRequestError } from "../errors.ts";
import type { PatchSchema } from "./schema.ts";
import { applyStrategicMergePatch, createThreeWayPatch, createTwoWayPatch } from "./strategic_merge.ts";

// The test type of Kubernetes' own strategic merge patch tests (MergeItem),
// as a schema: lists of it merge by "name".
const itemFields: Record<string, PatchSchema> = {};
const retainKeysFields: Record<string, PatchSchema> = {};
const schema: PatchSchema = { fields: itemFields };
Object.assign(itemFields, {
  mergingList: { patchStrategy: "merge", patchMergeKey: "name", fields: itemFields },
  nonMergingList: { listType: "atomic", fields: itemFields },
  mergingIntList: { patchStrategy: "merge" },
  replacingItem: { patchStrategy: "replace", fields: {} },
  retainKeysMap: { patchStrategy: "retainKeys", fields: retainKeysFields },
  retainKeysMergingList: {
    patchStrategy: "merge,retainKeys",
    patchMergeKey: "name",
    fields: itemFields,
  },
});
Object.assign(retainKeysFields, {
  mergingIntList: { patchStrategy: "merge" },
  mergingList: { patchStrategy: "merge", patchMergeKey: "name", fields: itemFields },
});

type Doc = Record<string, unknown>;

interface Case {
  description: string;
  original?: Doc;
  twoWay?: Doc;
  modified?: Doc;
  current?: Doc;
  threeWay?: Doc;
  result?: Doc;
  twoWayResult?: Doc;
  error?: string;
}

const cases = (text: string) => parse(text) as Case[];

// Patches kubectl would never create, applied to an original
// (Kubernetes: customStrategicMergePatchTestCaseData and raw cases).
const applyCases = cases(`
- description: unique scalars when merging lists
  original: {mergingIntList: [1, 2]}
  twoWay: {mergingIntList: [2, 3]}
  modified: {mergingIntList: [1, 2, 3]}
- description: delete map from nested map
  original: {simpleMap: {key1: 1, key2: 1}}
  twoWay: {simpleMap: {$patch: delete}}
  modified: {simpleMap: {}}
- description: delete all items from merging list
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {mergingList: [{$patch: replace}]}
  modified: {mergingList: []}
- description: merge empty merging lists
  original: {mergingList: []}
  twoWay: {mergingList: []}
  modified: {mergingList: []}
- description: delete all keys from map
  original: {name: 1, value: 1}
  twoWay: {$patch: replace}
  modified: {}
- description: add key and delete all keys from map
  original: {name: 1, value: 1}
  twoWay: {other: a, $patch: replace}
  modified: {other: a}
- description: delete all duplicate entries in a merging list
  original: {mergingList: [{name: 1}, {name: 1}, {name: 2, value: a}, {name: 3}, {name: 3}]}
  twoWay: {mergingList: [{name: 1, $patch: delete}, {name: 3, $patch: delete}]}
  modified: {mergingList: [{name: 2, value: a}]}
- description: retainKeys map can add a field when no retainKeys directive present
  original: {retainKeysMap: {name: foo}}
  twoWay: {retainKeysMap: {value: bar}}
  modified: {retainKeysMap: {name: foo, value: bar}}
- description: retainKeys map can delete a field when no retainKeys directive present
  original: {retainKeysMap: {name: foo, value: a}}
  twoWay: {retainKeysMap: {value: null}}
  modified: {retainKeysMap: {name: foo}}
- description: retainKeys map merges an empty map
  original: {retainKeysMap: {name: foo, value: a}}
  twoWay: {retainKeysMap: {}}
  modified: {retainKeysMap: {name: foo, value: a}}
- description: retainKeys list can change a field when no retainKeys directive present
  original: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
  twoWay: {retainKeysMergingList: [{name: foo, value: b}]}
  modified: {retainKeysMergingList: [{name: bar}, {name: foo, value: b}]}
- description: retainKeys directive clears the keys it does not name
  original: {retainKeysMap: {name: foo, value: a, other: b}}
  twoWay: {retainKeysMap: {$retainKeys: [name, simpleMap], simpleMap: {k: v}}}
  modified: {retainKeysMap: {name: foo, simpleMap: {k: v}}}
- description: preserve the order from the patch in a merging list
  original: {mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]}
  twoWay: {mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, other: x}]}
  modified: {mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, value: b, other: x}]}
- description: preserve the order from the patch in a merging list 2
  original: {mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]}
  twoWay: {mergingList: [{name: 3, value: c}, {name: 1, value: a}]}
  modified: {mergingList: [{name: 2, value: b}, {name: 3, value: c}, {name: 1, value: a}]}
- description: preserve the order from the patch in a merging int list
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {mergingIntList: [3, 1, 2]}
  modified: {mergingIntList: [3, 1, 2]}
- description: preserve the order from the patch in a merging int list 2
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {mergingIntList: [3, 1]}
  modified: {mergingIntList: [2, 3, 1]}
- description: $setElementOrder contains item that is not present in the list to be merged
  original: {mergingList: [{name: 1}, {name: 3}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 3}, {name: 2}, {name: 1}]
    mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]
  modified: {mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}
- description: $setElementOrder contains item that is not present in the int list to be merged
  original: {mergingIntList: [1, 3]}
  twoWay: {$setElementOrder/mergingIntList: [3, 2, 1]}
  modified: {mergingIntList: [3, 1]}
- description: should check if order in $setElementOrder and patch list match
  original: {mergingList: [{name: 1}, {name: 3}, {name: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}]
    mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]
  error: doesn't match
- description: should check if order in $setElementOrder and patch int list match
  original: {mergingIntList: [1, 3, 2]}
  twoWay: {$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3, 1]}
  error: doesn't match
- description: missing merge key should error out
  original: {mergingList: [{name: 1, value: a}]}
  twoWay: {mergingList: [{value: b}]}
  error: does not contain the merge key "name"
- description: $deleteFromPrimitiveList of nonexistent item does not add the item
  original: {mergingIntList: [1, 2]}
  twoWay: {$deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {mergingIntList: [1, 2]}
- description: $deleteFromPrimitiveList on an empty primitive list does not add the item
  original: {mergingIntList: null}
  twoWay: {$deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {mergingIntList: null}
- description: $deleteFromPrimitiveList on a nonexistent primitive list does not add the list
  original: {foo: [bar]}
  twoWay: {$deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {foo: [bar]}
- description: $deleteFromPrimitiveList deletes from a list with merge patch strategy
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {$deleteFromPrimitiveList/mergingIntList: [2]}
  modified: {mergingIntList: [1, 3]}
- description: $deleteFromPrimitiveList deletes from a list without merge patch strategy
  original: {nonMergingIntList: [1, 2, 3]}
  twoWay: {$deleteFromPrimitiveList/nonMergingIntList: [2]}
  modified: {nonMergingIntList: [1, 3]}
- description: $patch merge is the default behaviour
  original: {simpleMap: {a: 1}, mergingList: [{name: 1, value: a}]}
  twoWay: {simpleMap: {$patch: merge, b: 2}, mergingList: [{$patch: merge}, {name: 2}]}
  modified: {simpleMap: {a: 1, b: 2}, mergingList: [{name: 2}, {name: 1, value: a}]}
- description: replace strategy replaces an object whole
  original: {replacingItem: {a: 1, b: 2}}
  twoWay: {replacingItem: {c: 3, d: null}}
  modified: {replacingItem: {c: 3}}
- description: nested directives in a new value are carried out, not stored
  original: {}
  twoWay:
    mergingList:
    - name: 1
      simpleMap: {a: 1, b: null}
      $setElementOrder/mergingList: [{name: 2}]
      mergingList: [{name: 2}, {name: 3, $patch: delete}]
  modified: {mergingList: [{name: 1, simpleMap: {a: 1}, mergingList: [{name: 2}]}]}
`);

for (const c of applyCases) {
  Deno.test(`applyStrategicMergePatch() ${c.description}`, () => {
    const run = () => applyStrategicMergePatch(c.original ?? {}, c.twoWay ?? {}, { schema });
    if (c.error) {
      assert.throws(run, (error: unknown) => {
        assert.ok(error instanceof BadRequestError, String(error));
        assert.ok(error.message.includes(c.error as string), error.message);
        return true;
      });
    } else {
      assert.deepEqual(run(), c.modified);
    }
  });
}

// Documents kubectl diffs, with the two-way patch, the three-way patch
// (last-applied = original) and the result of applying the three-way patch
// to current (Kubernetes: createStrategicMergePatchTestCaseData and raw
// cases).
const createCases = cases(`
- description: nil original
  twoWay: {name: 1, value: 1}
  modified: {name: 1, value: 1}
  current: {name: 1, other: a}
  threeWay: {value: 1}
  result: {name: 1, value: 1, other: a}
- description: nil patch
  original: {name: 1}
  twoWay: {}
  modified: {name: 1}
  current: {name: 1}
  threeWay: {}
  result: {name: 1}
- description: add field to map with conflict
  original: {name: 1}
  twoWay: {value: 1}
  modified: {name: 1, value: 1}
  current: {name: a, other: a}
  threeWay: {name: 1, value: 1}
  result: {name: 1, value: 1, other: a}
- description: add field and delete field from map
  original: {name: 1}
  twoWay: {name: null, value: 1}
  modified: {value: 1}
  current: {name: 1, other: a}
  threeWay: {name: null, value: 1}
  result: {value: 1, other: a}
- description: delete field from nested map with conflict
  original: {simpleMap: {key1: 1, key2: 1}}
  twoWay: {simpleMap: {key2: null}}
  modified: {simpleMap: {key1: 1}}
  current: {simpleMap: {key1: a, key2: 1, other: a}}
  threeWay: {simpleMap: {key1: 1, key2: null}}
  result: {simpleMap: {key1: 1, other: a}}
- description: replace list of scalars with conflict
  original: {nonMergingIntList: [1, 2]}
  twoWay: {nonMergingIntList: [2, 3]}
  modified: {nonMergingIntList: [2, 3]}
  current: {nonMergingIntList: [1, 4]}
  threeWay: {nonMergingIntList: [2, 3]}
  result: {nonMergingIntList: [2, 3]}
- description: delete all maps from merging list with conflict
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]}
  modified: {mergingList: []}
  current: {mergingList: [{name: 1, other: a}, {name: 2, other: b}]}
  threeWay: {mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]}
  result: {mergingList: []}
- description: merge empty merging lists
  original: {mergingList: []}
  twoWay: {}
  modified: {mergingList: []}
  current: {mergingList: []}
  threeWay: {}
  result: {mergingList: []}
- description: defined null values should propagate overwrite current fields
  original: {name: 2}
  twoWay: {name: 1, value: 1, other: null}
  twoWayResult: {name: 1, value: 1}
  modified: {name: 1, value: 1, other: null}
  current: {name: a, other: a}
  threeWay: {name: 1, value: 1, other: null}
  result: {name: 1, value: 1}
- description: retainKeys map with no change should not be present
  original: {name: a, retainKeysMap: {name: foo}}
  twoWay: {value: b}
  modified: {name: a, value: b, retainKeysMap: {name: foo}}
  current: {name: a, other: c, retainKeysMap: {name: foo}}
  threeWay: {value: b}
  result: {name: a, value: b, other: c, retainKeysMap: {name: foo}}
- description: retainKeys map replaces a field and clears the dropped one
  original: {retainKeysMap: {name: foo, value: a}}
  twoWay: {retainKeysMap: {$retainKeys: [name, other], other: b, value: null}}
  modified: {retainKeysMap: {name: foo, other: b}}
  current: {retainKeysMap: {name: foo, value: a, simpleMap: {x: y}}}
  threeWay: {retainKeysMap: {$retainKeys: [name, other], other: b, value: null}}
  result: {retainKeysMap: {name: foo, other: b}}
- description: delete items in lists of scalars
  original: {mergingIntList: [1, 2, 3]}
  twoWay:
    $setElementOrder/mergingIntList: [1, 2]
    $deleteFromPrimitiveList/mergingIntList: [3]
  modified: {mergingIntList: [1, 2]}
  current: {mergingIntList: [1, 2, 3, 4]}
  threeWay:
    $setElementOrder/mergingIntList: [1, 2]
    $deleteFromPrimitiveList/mergingIntList: [3]
  result: {mergingIntList: [1, 2, 4]}
- description: add and delete items in lists of scalars
  original: {mergingIntList: [1, 2, 3]}
  twoWay:
    $setElementOrder/mergingIntList: [1, 2, 4]
    $deleteFromPrimitiveList/mergingIntList: [3]
    mergingIntList: [4]
  modified: {mergingIntList: [1, 2, 4]}
  current: {mergingIntList: [1, 2, 3, 4]}
  threeWay:
    $setElementOrder/mergingIntList: [1, 2, 4]
    $deleteFromPrimitiveList/mergingIntList: [3]
  result: {mergingIntList: [1, 2, 4]}
- description: merge lists of maps
  original: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 4}, {name: 1}, {name: 2}, {name: 3}]
    mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]
  modified: {mergingList: [{name: 4, value: 4}, {name: 1}, {name: 2, value: 2}, {name: 3, value: 3}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 4}, {name: 1}, {name: 2}, {name: 3}]
    mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]
  result:
    mergingList: [{name: 4, value: 4}, {name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]
- description: merge lists of maps with conflict
  original: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}]
    mergingList: [{name: 3, value: 3}]
  modified: {mergingList: [{name: 1}, {name: 2, value: 2}, {name: 3, value: 3}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 3, other: b}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}]
    mergingList: [{name: 2, value: 2}, {name: 3, value: 3}]
  result: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]}
- description: add field to map in merging list with conflict
  original: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}]
    mergingList: [{name: 1, value: 1}]
  modified: {mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}
  current: {mergingList: [{name: 1, other: a}, {name: 3, value: 2, other: b}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}]
    mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]
  result: {mergingList: [{name: 1, value: 1, other: a}, {name: 2, value: 2}, {name: 3, value: 2, other: b}]}
- description: add an item that already exists in current object in merging list
  original: {mergingList: [{name: 1, value: a}, {name: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}]
    mergingList: [{name: 3}]
  modified: {mergingList: [{name: 1, value: a}, {name: 2}, {name: 3}]}
  current: {mergingList: [{name: 1, value: a, other: x}, {name: 2}, {name: 3}]}
  threeWay: {}
  result: {mergingList: [{name: 1, value: a, other: x}, {name: 2}, {name: 3}]}
- description: delete map from merging list
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 2}]
    mergingList: [{name: 1, $patch: delete}]
  modified: {mergingList: [{name: 2}]}
  current: {mergingList: [{name: 1}, {name: 2, other: b}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 2}]
    mergingList: [{name: 1, $patch: delete}]
  result: {mergingList: [{name: 2, other: b}]}
- description: delete missing map from merging list with conflict
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 2}]
    mergingList: [{name: 1, $patch: delete}]
  modified: {mergingList: [{name: 2}]}
  current: {mergingList: [{name: 3, other: a}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 2}]
    mergingList: [{name: 2}, {name: 1, $patch: delete}]
  result: {mergingList: [{name: 2}, {name: 3, other: a}]}
- description: add map and delete map from merging list
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 2}, {name: 3}]
    mergingList: [{name: 3}, {name: 1, $patch: delete}]
  modified: {mergingList: [{name: 2}, {name: 3}]}
  current: {mergingList: [{name: 1}, {name: 2, other: b}, {name: 4, other: c}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 2}, {name: 3}]
    mergingList: [{name: 3}, {name: 1, $patch: delete}]
  result: {mergingList: [{name: 2, other: b}, {name: 4, other: c}, {name: 3}]}
- description: add map and delete map from merging list with conflict
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 2}, {name: 3}]
    mergingList: [{name: 3}, {name: 1, $patch: delete}]
  modified: {mergingList: [{name: 2}, {name: 3}]}
  current: {mergingList: [{name: 1, other: a}, {name: 4, other: c}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 2}, {name: 3}]
    mergingList: [{name: 2}, {name: 3}, {name: 1, $patch: delete}]
  result: {mergingList: [{name: 4, other: c}, {name: 2}, {name: 3}]}
- description: delete field from map in merging list with conflict
  original: {mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}]
    mergingList: [{name: 1, value: null}]
  modified: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  current: {mergingList: [{name: 1, value: a, other: a}, {name: 2, value: 2}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}]
    mergingList: [{name: 1, value: null}]
  result: {mergingList: [{name: 1, other: a}, {name: 2, value: 2}]}
- description: replace non merging list nested in merging list with value conflict
  original: {mergingList: [{name: 1, nonMergingList: [{name: 1}, {name: 2, value: 2}]}, {name: 2}]}
  twoWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}]
    mergingList: [{name: 1, nonMergingList: [{name: 1, value: 1}]}]
  modified: {mergingList: [{name: 1, nonMergingList: [{name: 1, value: 1}]}, {name: 2}]}
  current: {mergingList: [{name: 1, other: a, nonMergingList: [{name: 1, value: c}]}, {name: 2, other: b}]}
  threeWay:
    $setElementOrder/mergingList: [{name: 1}, {name: 2}]
    mergingList: [{name: 1, nonMergingList: [{name: 1, value: 1}]}]
  result: {mergingList: [{name: 1, other: a, nonMergingList: [{name: 1, value: 1}]}, {name: 2, other: b}]}
- description: retainKeys list item clears the dropped field
  original: {retainKeysMergingList: [{name: foo, value: a}]}
  twoWay:
    $setElementOrder/retainKeysMergingList: [{name: foo}]
    retainKeysMergingList: [{name: foo, $retainKeys: [name, other], other: b, value: null}]
  modified: {retainKeysMergingList: [{name: foo, other: b}]}
  current: {retainKeysMergingList: [{name: foo, value: a, simpleMap: {k: v}}]}
  threeWay:
    $setElementOrder/retainKeysMergingList: [{name: foo}]
    retainKeysMergingList: [{name: foo, $retainKeys: [name, other], other: b, value: null}]
  result: {retainKeysMergingList: [{name: foo, other: b}]}
`);

for (const c of createCases) {
  Deno.test(`createTwoWayPatch() ${c.description}`, () => {
    const original = c.original ?? {};
    const modified = c.modified ?? {};
    const patch = createTwoWayPatch(original, modified, { schema });
    assert.deepEqual(patch, c.twoWay);
    assert.deepEqual(
      applyStrategicMergePatch(original, patch, { schema }),
      c.twoWayResult ?? modified,
    );
  });
  Deno.test(`createThreeWayPatch() ${c.description}`, () => {
    const patch = createThreeWayPatch({
      lastApplied: c.original,
      modified: c.modified ?? {},
      current: c.current ?? {},
    }, { schema });
    assert.deepEqual(patch, c.threeWay);
    assert.deepEqual(
      applyStrategicMergePatch(c.current ?? {}, patch, { schema }),
      c.result,
    );
  });
}

const lastApplied = parse(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env:
        - {name: MODE, value: production}
        - {name: DEBUG, value: "false"}
        ports:
        - {containerPort: 80, name: http}
`);

const newConfig = parse(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        env:
        - {name: MODE, value: production}
        ports:
        - {containerPort: 80, name: http}
        - {containerPort: 9090, name: metrics}
`);

// The live object: defaults filled in by the server, a revision annotation
// from the controller, an env var added by "kubectl set env" and a sidecar
// injected by another tool.
const live = parse(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  uid: 1b4e28ba
  resourceVersion: "41"
  labels: {app: web}
  annotations: {deployment.kubernetes.io/revision: "3"}
spec:
  replicas: 2
  revisionHistoryLimit: 10
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
  template:
    metadata: {labels: {app: web}}
    spec:
      restartPolicy: Always
      containers:
      - name: web
        image: nginx:1.25
        imagePullPolicy: IfNotPresent
        env:
        - {name: MODE, value: production}
        - {name: DEBUG, value: "false"}
        - {name: TZ, value: UTC}
        ports:
        - {containerPort: 80, name: http, protocol: TCP}
      - name: proxy
        image: envoy:1.30
status: {replicas: 2, readyReplicas: 2}
`);

Deno.test("createThreeWayPatch() then applyStrategicMergePatch() edits a live Deployment like kubectl apply", () => {
  const patch = createThreeWayPatch({
    lastApplied,
    modified: newConfig,
    current: live,
  });
  assert.deepEqual(patch, {
    spec: {
      template: {
        spec: {
          "$setElementOrder/containers": [{ name: "web" }],
          containers: [{
            name: "web",
            image: "nginx:1.27",
            "$setElementOrder/env": [{ name: "MODE" }],
            env: [{ name: "DEBUG", $patch: "delete" }],
            "$setElementOrder/ports": [
              { containerPort: 80 },
              { containerPort: 9090 },
            ],
            ports: [{ containerPort: 9090, name: "metrics" }],
          }],
        },
      },
    },
  });
  const updated = applyStrategicMergePatch(live, patch) as typeof live;
  const expected = structuredClone(live);
  const web = expected.spec.template.spec.containers[0];
  web.image = "nginx:1.27";
  web.env = [
    { name: "MODE", value: "production" },
    { name: "TZ", value: "UTC" },
  ];
  web.ports.push({ containerPort: 9090, name: "metrics" });
  assert.deepEqual(updated, expected);
});

Deno.test("createThreeWayPatch() is empty when the configuration is unchanged", () => {
  const current = structuredClone(live);
  const spec = current.spec.template.spec;
  spec.containers = spec.containers.slice(0, 1);
  spec.containers[0].env = spec.containers[0].env.slice(0, 2);
  assert.deepEqual(
    createThreeWayPatch({ lastApplied, modified: lastApplied, current }),
    {},
  );
});

Deno.test("createThreeWayPatch() restates list order when others added items, as kubectl does", () => {
  const patch = createThreeWayPatch({
    lastApplied,
    modified: lastApplied,
    current: live,
  });
  assert.deepEqual(patch, {
    spec: {
      template: {
        spec: {
          "$setElementOrder/containers": [{ name: "web" }],
          containers: [{
            name: "web",
            "$setElementOrder/env": [{ name: "MODE" }, { name: "DEBUG" }],
          }],
        },
      },
    },
  });
  assert.deepEqual(applyStrategicMergePatch(live, patch), live);
});

Deno.test("createThreeWayPatch() switches a Deployment strategy with $retainKeys", () => {
  const recreate = structuredClone(newConfig);
  recreate.spec.strategy = { type: "Recreate" };
  const patch = createThreeWayPatch({
    lastApplied: newConfig,
    modified: recreate,
    current: live,
  }) as typeof live;
  assert.deepEqual(patch.spec.strategy, {
    $retainKeys: ["type"],
    type: "Recreate",
  });
  const updated = applyStrategicMergePatch(live, patch) as typeof live;
  assert.deepEqual(updated.spec.strategy, { type: "Recreate" });
});

Deno.test("applyStrategicMergePatch() merges finalizers and owner references by their strategy", () => {
  const pod = {
    kind: "Pod",
    metadata: {
      name: "p",
      finalizers: ["a.example/x", "b.example/y"],
      ownerReferences: [{ uid: "1", kind: "ReplicaSet", name: "rs" }],
    },
  };
  const updated = applyStrategicMergePatch(pod, {
    metadata: {
      finalizers: ["c.example/z"],
      "$deleteFromPrimitiveList/finalizers": ["a.example/x"],
      ownerReferences: [{ uid: "2", kind: "Node", name: "n" }],
    },
  });
  assert.deepEqual(updated.metadata, {
    name: "p",
    // Without $setElementOrder, new items go before the live ones, as in
    // Kubernetes.
    finalizers: ["c.example/z", "b.example/y"],
    ownerReferences: [
      { uid: "2", kind: "Node", name: "n" },
      { uid: "1", kind: "ReplicaSet", name: "rs" },
    ],
  });
});

Deno.test("applyStrategicMergePatch() merges status conditions by type and replaces tolerations", () => {
  const node = {
    kind: "Pod",
    spec: { tolerations: [{ key: "a", operator: "Exists" }] },
    status: {
      conditions: [
        { type: "Ready", status: "False" },
        { type: "PodScheduled", status: "True" },
      ],
    },
  };
  const updated = applyStrategicMergePatch(node, {
    spec: { tolerations: [{ key: "b", operator: "Exists" }] },
    status: { conditions: [{ type: "Ready", status: "True" }] },
  });
  assert.deepEqual(updated, {
    kind: "Pod",
    spec: { tolerations: [{ key: "b", operator: "Exists" }] },
    status: {
      conditions: [
        { type: "Ready", status: "True" },
        { type: "PodScheduled", status: "True" },
      ],
    },
  });
});

Deno.test("applyStrategicMergePatch() falls back to JSON merge patch for unknown kinds", () => {
  const widget = { kind: "Widget", spec: { items: [{ name: "a" }, { name: "b" }] } };
  assert.deepEqual(
    applyStrategicMergePatch(widget, { spec: { items: [{ name: "c" }] } }),
    { kind: "Widget", spec: { items: [{ name: "c" }] } },
  );
  assert.deepEqual(
    createThreeWayPatch({
      lastApplied: { kind: "Widget", spec: { a: 1, b: 2 } },
      modified: { kind: "Widget", spec: { a: 3 } },
      current: { kind: "Widget", spec: { a: 1, b: 2, c: 3 } },
    }),
    { spec: { a: 3, b: null } },
  );
});

Deno.test("strategic merge functions never modify their arguments", () => {
  const liveBefore = structuredClone(live);
  const configBefore = structuredClone(newConfig);
  const lastBefore = structuredClone(lastApplied);
  const patch = createThreeWayPatch({
    lastApplied,
    modified: newConfig,
    current: live,
  });
  const patchBefore = structuredClone(patch);
  const updated = applyStrategicMergePatch(live, patch) as typeof live;
  updated.spec.template.spec.containers[0].env.push({ name: "X", value: "1" });
  (patch.spec as typeof live.spec).template.spec.containers[0].ports.push({});
  assert.deepEqual(live, liveBefore);
  assert.deepEqual(newConfig, configBefore);
  assert.deepEqual(lastApplied, lastBefore);
  assert.notDeepEqual(patch, patchBefore);
  createTwoWayPatch(lastApplied, newConfig);
  assert.deepEqual(lastApplied, lastBefore);
  assert.deepEqual(newConfig, configBefore);
});

const hostile: Array<[string, unknown, unknown, RegExp]> = [
  ["a patch that is a list", { kind: "Pod" }, [], /expected an object, got list/],
  ["a target that is a string", "pod", {}, /expected an object, got string/],
  ["a list where an object is expected", { kind: "Pod", spec: {} }, { spec: [] }, /spec: expected an object, got list/],
  ["an object where a merged list is expected", { kind: "Pod", spec: { containers: [] } }, {
    spec: { containers: { name: "x" } },
  }, /spec\.containers: expected a list, got object/],
  ["scalars in a list of objects", { kind: "Pod", spec: { containers: [{ name: "a" }] } }, {
    spec: { containers: ["b"] },
  }, /mix objects and scalars/],
  ["a merge key that is an object", { kind: "Pod", spec: { containers: [{ name: "a" }] } }, {
    spec: { containers: [{ name: { x: 1 } }] },
  }, /merge key "name" must be a scalar/],
  [
    "an unknown $patch directive",
    { kind: "Pod" },
    { spec: { $patch: "explode" } },
    /unknown \$patch directive "explode"/,
  ],
  ["a $patch directive that is a number", { kind: "Pod" }, { spec: { $patch: 5 } }, /unknown \$patch directive 5/],
  ["an unknown $patch in a list item", { kind: "Pod", spec: { containers: [{ name: "a" }] } }, {
    spec: { containers: [{ name: "a", $patch: "zap" }] },
  }, /unknown \$patch directive "zap"/],
  ["$retainKeys that is a string", { kind: "Deployment", spec: { strategy: {} } }, {
    spec: { strategy: { $retainKeys: "type" } },
  }, /\$retainKeys must be a list of field names/],
  ["a field outside $retainKeys", { kind: "Deployment", spec: { strategy: {} } }, {
    spec: { strategy: { $retainKeys: ["type"], rollingUpdate: {} } },
  }, /field "rollingUpdate" is not in the \$retainKeys list/],
  ["$setElementOrder that is an object", { kind: "Pod", spec: { containers: [] } }, {
    spec: { "$setElementOrder/containers": { name: "a" } },
  }, /must be a list, got object/],
  ["$setElementOrder items without the merge key", { kind: "Pod", spec: { containers: [{ name: "a" }] } }, {
    spec: { "$setElementOrder/containers": [{ image: "x" }] },
  }, /does not contain the merge key "name"/],
  ["$setElementOrder on a list without merge key", { kind: "Pod", spec: { tolerations: [{ key: "a" }] } }, {
    spec: { "$setElementOrder/tolerations": [{ key: "a" }] },
  }, /needs a list with a merge key/],
  ["$deleteFromPrimitiveList that is a string", { kind: "Pod", metadata: { finalizers: ["a"] } }, {
    metadata: { "$deleteFromPrimitiveList/finalizers": "a" },
  }, /must be a list of scalars/],
  ["$deleteFromPrimitiveList on a list of objects", { kind: "Pod", spec: { containers: [{ name: "a" }] } }, {
    spec: { "$deleteFromPrimitiveList/containers": ["a"] },
  }, /applies to lists of scalars only/],
  [
    "a directive naming __proto__",
    { kind: "Pod", metadata: {} },
    { metadata: { "$setElementOrder/__proto__": [] } },
    /names no usable field/,
  ],
  [
    "a directive naming nothing",
    { kind: "Pod", metadata: {} },
    { metadata: { "$deleteFromPrimitiveList/": [] } },
    /names no usable field/,
  ],
  [
    "a __proto__ key",
    { kind: "Pod" },
    JSON.parse('{"metadata":{"__proto__":{"polluted":true}}}'),
    /key "__proto__" is not allowed/,
  ],
  [
    "lists of lists",
    { kind: "Pod", metadata: { finalizers: [["a"]] } },
    { metadata: { finalizers: [["b"]] } },
    /lists of lists are not supported/,
  ],
];

for (const [what, original, patch, message] of hostile) {
  Deno.test(`applyStrategicMergePatch() refuses ${what} with BadRequestError`, () => {
    assert.throws(
      () =>
        applyStrategicMergePatch(
          original as Doc,
          patch as Doc,
        ),
      (error: unknown) => {
        assert.ok(error instanceof BadRequestError, String(error));
        assert.match(error.message, message);
        return true;
      },
    );
    assert.equal(({} as Doc).polluted, undefined);
  });
}

Deno.test("applyStrategicMergePatch() ignores inherited names in the schema and documents", () => {
  const pod = { kind: "Pod", metadata: { name: "p" } };
  assert.deepEqual(
    applyStrategicMergePatch(pod, {
      metadata: { constructor: ["a"], toString: { b: 1 } },
    }),
    { kind: "Pod", metadata: { name: "p", constructor: ["a"], toString: { b: 1 } } },
  );
  assert.deepEqual(
    applyStrategicMergePatch({ kind: "constructor", a: [1] }, { a: [2] }),
    { kind: "constructor", a: [2] },
  );
});

Deno.test("createThreeWayPatch() refuses a live list item without its merge key", () => {
  assert.throws(
    () =>
      createThreeWayPatch({
        modified: { kind: "Pod", spec: { containers: [{ name: "a" }] } },
        current: { kind: "Pod", spec: { containers: [{ image: "x" }] } },
      }),
    /spec\.containers: list item \{"image":"x"\} does not contain the merge key "name"/,
  );
});
