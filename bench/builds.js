// Two builds of dist/engine.js in one process (bench/ab.js, bench/mnist-ab.js): both imported,
// and one device for both, from the build that asks for the most features (a newer build may use
// subgroups where an older one does not ask for them); the other stays open, unused (destroying
// one of two Dawn instances in a process aborts it).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export async function loadBuilds(files) {
  const builds = await Promise.all(files.map((f) => import(pathToFileURL(resolve(f)).href)));
  const gpus = [];
  for (const b of builds) gpus.push(await b.getNodeGpu({ quiet: gpus.length > 0 }));
  const gpu = [...gpus].sort((x, y) => y.device.features.size - x.device.features.size)[0];
  return { builds, gpu };
}

export const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
