import { adapterKind, adapterName, openDevice, type Gpu } from './gpu.js';

/** What to enable where WebGPU is missing. */
const ENABLE =
  'use a recent Chrome or Edge (WebGPU is on by default on Windows, macOS and ChromeOS), or Safari 26 or Firefox 141 on Windows; ' +
  'on Linux start Chromium with --enable-unsafe-webgpu (or turn on chrome://flags/#enable-unsafe-webgpu), adding --enable-features=Vulkan where it has no GPU driver';

/** A device for the engine in a browser, through navigator.gpu. */
export async function getBrowserGpu(): Promise<Gpu> {
  if (typeof navigator === 'undefined' || !navigator.gpu) {
    throw new Error(
      `this browser has no WebGPU (navigator.gpu is missing)${typeof isSecureContext !== 'undefined' && !isSecureContext ? ', and the page is not a secure context (open it from localhost or https)' : ''}: ${ENABLE}`,
    );
  }
  let adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  // Offered only the fallback (SwiftShader), take a compatibility-mode adapter that is not one
  // where there is such: Chromium's OpenGL ES adapter on ANGLE on lavapipe, with
  // --use-webgpu-adapter=opengles (README.md, "In the browser"), runs the engine faster.
  if (adapter?.info.isFallbackAdapter) {
    const compat = await navigator.gpu.requestAdapter({ featureLevel: 'compatibility' });
    if (compat && !compat.info.isFallbackAdapter) adapter = compat;
  }
  if (!adapter)
    throw new Error(`navigator.gpu.requestAdapter() returned no adapter (WebGPU is off or blocked here): ${ENABLE}`);
  const name = adapterName(adapter.info);
  const device = await openDevice(adapter, name);
  console.info(`webgpu: using ${name}`);
  const kind = adapterKind(adapter.info);
  return { device, adapterName: name, kind, destroy: () => device.destroy() };
}
