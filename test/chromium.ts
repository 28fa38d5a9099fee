// Debian's headless Chromium for the page tests, through playwright-core. WebGPU comes from
// Mesa's lavapipe where it is installed, else from SwiftShader (Chromium's own Vulkan on the CPU);
// DIFFUSION_BROWSER_ADAPTER=swiftshader or lavapipe chooses. Chromium's Dawn lists lavapipe's
// Vulkan adapter but blocklists it as a CPU adapter (crbug.com/40057808), so the way to it is
// Dawn's OpenGL ES backend on ANGLE on Vulkan: a compatibility-mode adapter, which the page asks
// for when it is offered only SwiftShader (src/gpu/browser.ts). README.md, "In the browser", has
// the flags tried and the speeds.
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

export const LAVAPIPE_FLAGS = [
  '--enable-features=Vulkan,VulkanFromANGLE,DefaultANGLEVulkan',
  '--use-vulkan=native',
  '--use-angle=vulkan',
  '--disable-vulkan-surface',
  '--use-webgpu-adapter=opengles',
  // Unmasks adapter.info, so the page can name the adapter.
  '--enable-webgpu-developer-features',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the browser test needs Debian's chromium (bash .ci/setup-system installs it)`,
    );
  const choice = process.env.DIFFUSION_BROWSER_ADAPTER ?? (existsSync(LAVAPIPE_ICD) ? 'lavapipe' : 'swiftshader');
  if (choice !== 'swiftshader' && choice !== 'lavapipe')
    throw new Error(`DIFFUSION_BROWSER_ADAPTER = "${choice}": expected swiftshader or lavapipe`);
  const lavapipe = choice === 'lavapipe';
  if (lavapipe && !existsSync(LAVAPIPE_ICD))
    throw new Error(
      `DIFFUSION_BROWSER_ADAPTER=lavapipe, but ${LAVAPIPE_ICD} is missing (apt-get install mesa-vulkan-drivers)`,
    );
  // Loaded here, not at the top: the kernel suites share chunks with this file, and the GPU
  // machine's pack (bench/device-pack.sh) carries no browser driver.
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--enable-unsafe-webgpu', ...(lavapipe ? LAVAPIPE_FLAGS : [])],
    env: lavapipe ? { ...process.env, VK_ICD_FILENAMES: LAVAPIPE_ICD } : process.env,
  });
}
