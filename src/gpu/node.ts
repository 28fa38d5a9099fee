// Getting a device in Node through Dawn (the npm package `webgpu`). With no hardware adapter the
// engine falls back by itself to a software Vulkan driver: lavapipe (Mesa >= 24), then SwiftShader
// from Debian's chromium package. Dawn reads VK_ICD_FILENAMES when an instance is created, so each
// candidate gets its own instance.
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { adapterKind, adapterName, openDevice, type AdapterKind, type Gpu } from './gpu.js';
import { installEventPump } from './pump.js';

Object.assign(globalThis, globals);

export const ICD_FILES = {
  lavapipe: ['/usr/share/vulkan/icd.d/lvp_icd.json', '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'],
  swiftshader: ['/usr/lib/chromium/vk_swiftshader_icd.json'],
};

export type AdapterChoice = 'auto' | 'hardware' | 'lavapipe' | 'swiftshader';
const CHOICES: readonly AdapterChoice[] = ['auto', 'hardware', 'lavapipe', 'swiftshader'];

export interface NodeGpuOptions {
  /** Which adapter to use; default: $DIFFUSION_ADAPTER, else 'auto'. */
  adapter?: string;
  /** Print nothing on stderr (the adapter line is printed once otherwise). */
  quiet?: boolean;
}

export const INSTALL_HINT =
  'no WebGPU adapter found. Install a Vulkan driver: on Debian 12, add bookworm-backports to ' +
  'the Suites: line of /etc/apt/sources.list.d/debian.sources and run `apt-get install -t ' +
  'bookworm-backports libvulkan1 mesa-vulkan-drivers` (lavapipe); on Ubuntu 24.04 or Debian 13, ' +
  '`apt-get install libvulkan1 mesa-vulkan-drivers`; or `apt-get install chromium` for SwiftShader.';

interface Candidate {
  adapter: GPUAdapter;
  instance: GPU;
  name: string;
  kind: AdapterKind;
}

async function tryAdapter(icd: string | undefined): Promise<Candidate | null> {
  const saved = process.env.VK_ICD_FILENAMES;
  if (icd !== undefined) process.env.VK_ICD_FILENAMES = icd;
  try {
    const instance = create(['backend=vulkan']) as GPU;
    const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return null;
    const name = adapterName(adapter.info);
    return { adapter, instance, name, kind: adapterKind(adapter.info) };
  } catch {
    return null;
  } finally {
    if (icd !== undefined) {
      if (saved === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = saved;
    }
  }
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

async function choose(choice: AdapterChoice): Promise<Candidate> {
  if (choice === 'lavapipe' || choice === 'swiftshader') {
    const icd = firstExisting(ICD_FILES[choice]);
    if (!icd)
      throw new Error(
        `--adapter ${choice}: its Vulkan driver is not installed (looked for ${ICD_FILES[choice].join(', ')}). ${INSTALL_HINT}`,
      );
    const c = await tryAdapter(icd);
    if (!c) throw new Error(`--adapter ${choice}: the driver at ${icd} gave no WebGPU adapter. ${INSTALL_HINT}`);
    return c;
  }
  // The machine's own ICDs first: a hardware adapter wins; a software one is kept as a fallback.
  const own = await tryAdapter(undefined);
  if (own && own.kind === 'hardware') return own;
  if (choice === 'hardware') {
    throw new Error(`--adapter hardware: no hardware adapter found${own ? ` (only ${own.name})` : ''}`);
  }
  if (own && own.kind === 'lavapipe') return own;
  const lavapipeIcd = firstExisting(ICD_FILES.lavapipe);
  const lavapipe = lavapipeIcd ? await tryAdapter(lavapipeIcd) : null;
  if (lavapipe) return lavapipe;
  if (own) return own;
  const swiftIcd = firstExisting(ICD_FILES.swiftshader);
  const swift = swiftIcd ? await tryAdapter(swiftIcd) : null;
  if (swift) return swift;
  throw new Error(INSTALL_HINT);
}

let announced = false;

/** A device for the engine in Node; says once on stderr which adapter it runs on. */
export async function getNodeGpu(options: NodeGpuOptions = {}): Promise<Gpu> {
  const raw = options.adapter ?? process.env.DIFFUSION_ADAPTER ?? 'auto';
  if (!CHOICES.includes(raw as AdapterChoice)) {
    throw new Error(`adapter "${raw}" is not one of ${CHOICES.join(', ')}`);
  }
  installEventPump();
  let cand: Candidate | null = await choose(raw as AdapterChoice);
  if (cand.adapter.info.device === 'null-backend') {
    throw new Error(`Dawn's null backend runs nothing; refusing it. ${INSTALL_HINT}`);
  }
  const device = await openDevice(cand.adapter, cand.name);
  const { name, kind } = cand;
  if (!options.quiet && !announced) {
    announced = true;
    process.stderr.write(`webgpu: using ${name} (${kind})\n`);
  }
  let alive = true;
  return {
    device,
    adapterName: name,
    kind,
    destroy() {
      if (!alive) return;
      alive = false;
      device.destroy();
      // Dropping the last reference to the instance lets Node's event loop end.
      cand = null;
    },
  };
}
