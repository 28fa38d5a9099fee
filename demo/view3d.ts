// The demo's 3-D view: a density over the plane as a shaded surface, and a reference density as a
// red wireframe over it, drawn by a WebGPU render pipeline on the engine's own device. Drag to
// rotate. Each frame is rendered to a texture, copied back and put on a 2-D canvas (a 'webgpu'
// canvas context lost the device in headless Chromium on SwiftShader), and its non-background
// pixels are counted (window.demo.view3d), so a test can tell a drawn surface from a blank one.
import { mat4 } from 'wgpu-matrix';

const SHADER = /* wgsl */ `
struct Camera { mvp: mat4x4f }
@group(0) @binding(0) var<uniform> camera: Camera;

struct Out { @builtin(position) position: vec4f, @location(0) color: vec3f }

@vertex fn vs(@location(0) position: vec3f, @location(1) color: vec3f) -> Out {
  return Out(camera.mvp * vec4f(position, 1.0), color);
}

@fragment fn fs(v: Out) -> @location(0) vec4f { return vec4f(v.color, 1.0); }
`;

/** What the last frame showed. */
export interface FrameStats {
  frames: number;
  /** Pixels that differ from the white background. */
  drawn: number;
  /** Sum of every pixel's channels: changes when the picture does. */
  checksum: number;
  /** performance.now() when the frame began (what was asked before then, it shows) and when it was on the canvas. */
  startedAt: number;
  shownAt: number;
}

const FLOATS_PER_VERTEX = 6;
const FORMAT: GPUTextureFormat = 'rgba8unorm';
const LIGHT = [0.4, -0.5, 0.77];

export class DensityView {
  stats: FrameStats = { frames: 0, drawn: 0, checksum: 0, startedAt: 0, shownAt: 0 };
  /** Called with each frame's stats once it is counted. */
  onFrame: (stats: FrameStats) => void = () => {};
  private azimuth = -0.9;
  private elevation = 0.6;
  private surface: { vertices: GPUBuffer; indices: GPUBuffer; count: number } | null = null;
  private reference: { vertices: GPUBuffer; indices: GPUBuffer; count: number } | null = null;
  private depth: GPUTexture;
  private color: GPUTexture;
  private readback: GPUBuffer;
  private readonly bytesPerRow: number;
  private pending = false;
  private rendering: Promise<void> = Promise.resolve();

  private constructor(
    private readonly device: GPUDevice,
    private readonly canvas: HTMLCanvasElement,
    private readonly context: CanvasRenderingContext2D,
    private readonly triangles: GPURenderPipeline,
    private readonly lines: GPURenderPipeline,
    private readonly camera: GPUBuffer,
    private readonly bindGroup: GPUBindGroup,
  ) {
    this.depth = device.createTexture({
      size: [canvas.width, canvas.height],
      format: 'depth24plus',
      usage: GPUTextureUsage.RENDER_ATTACHMENT,
    });
    this.color = device.createTexture({
      size: [canvas.width, canvas.height],
      format: FORMAT,
      usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC,
    });
    this.bytesPerRow = Math.ceil((4 * canvas.width) / 256) * 256;
    this.readback = device.createBuffer({
      size: this.bytesPerRow * canvas.height,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    let from: [number, number] | null = null;
    canvas.addEventListener('pointerdown', (e) => {
      from = [e.clientX, e.clientY];
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!from) return;
      this.azimuth -= (e.clientX - from[0]) * 0.01;
      this.elevation = Math.min(1.5, Math.max(0.05, this.elevation + (e.clientY - from[1]) * 0.01));
      from = [e.clientX, e.clientY];
      this.requestFrame();
    });
    canvas.addEventListener('pointerup', () => void (from = null));
    canvas.addEventListener('pointercancel', () => void (from = null));
  }

  static async create(device: GPUDevice, canvas: HTMLCanvasElement): Promise<DensityView> {
    const context = canvas.getContext('2d');
    if (!context) throw new Error('the 3-D view: this canvas has no 2-D context');
    const module = device.createShaderModule({ code: SHADER });
    // One explicit layout, so one bind group serves both pipelines ('auto' layouts are each pipeline's own).
    const bindGroupLayout = device.createBindGroupLayout({
      entries: [{ binding: 0, visibility: GPUShaderStage.VERTEX, buffer: { type: 'uniform' } }],
    });
    const layout = device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] });
    const pipeline = (topology: GPUPrimitiveTopology) =>
      device.createRenderPipelineAsync({
        layout,
        vertex: {
          module,
          entryPoint: 'vs',
          buffers: [
            {
              arrayStride: FLOATS_PER_VERTEX * 4,
              attributes: [
                { shaderLocation: 0, offset: 0, format: 'float32x3' },
                { shaderLocation: 1, offset: 12, format: 'float32x3' },
              ],
            },
          ],
        },
        fragment: { module, entryPoint: 'fs', targets: [{ format: FORMAT }] },
        primitive: { topology },
        depthStencil: { format: 'depth24plus', depthWriteEnabled: true, depthCompare: 'less-equal' },
      });
    const [triangles, lines] = await Promise.all([pipeline('triangle-list'), pipeline('line-list')]);
    const camera = device.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const bindGroup = device.createBindGroup({
      layout: bindGroupLayout,
      entries: [{ binding: 0, resource: { buffer: camera } }],
    });
    return new DensityView(device, canvas, context, triangles, lines, camera, bindGroup);
  }

  /**
   * The surface: heights [grid * grid], row-major from the bottom-left, of the density shown
   * (shaded blue) and of the reference (a red wireframe; null: none), both scaled by `scale`.
   */
  show(heights: ArrayLike<number>, reference: ArrayLike<number> | null, grid: number, scale: number): void {
    if (heights.length !== grid * grid || (reference && reference.length !== grid * grid))
      throw new Error(`the 3-D view: ${heights.length} heights for a ${grid} x ${grid} grid`);
    this.surface = this.replace(this.surface, this.mesh(heights, grid, scale, false));
    this.reference = reference ? this.replace(this.reference, this.mesh(reference, grid, scale, true)) : null;
    this.requestFrame();
  }

  /** The vertices (position in [-1, 1]^2 x height, colour) and indices of a triangle or line mesh. */
  private mesh(h: ArrayLike<number>, grid: number, scale: number, wire: boolean) {
    const v = new Float32Array(grid * grid * FLOATS_PER_VERTEX);
    const z = (i: number, j: number) => Math.min(1.4, h[Math.min(grid - 1, j) * grid + Math.min(grid - 1, i)] * scale);
    const cell = 2 / (grid - 1);
    for (let j = 0; j < grid; j++)
      for (let i = 0; i < grid; i++) {
        const at = (j * grid + i) * FLOATS_PER_VERTEX;
        // The wireframe a little above, so it is not lost in the surface where they agree.
        v.set([-1 + i * cell, -1 + j * cell, z(i, j) + (wire ? 0.01 : 0)], at);
        if (wire) {
          v.set([0.75, 0.1, 0.15], at + 3);
          continue;
        }
        // Lambert shading from the surface's normal (central differences), blue deepening with height.
        const nx = -(z(i + 1, j) - z(Math.max(0, i - 1), j)) / (2 * cell),
          ny = -(z(i, j + 1) - z(i, Math.max(0, j - 1))) / (2 * cell);
        const light = Math.max(0, (nx * LIGHT[0] + ny * LIGHT[1] + LIGHT[2]) / Math.hypot(nx, ny, 1));
        const shade = 0.35 + 0.65 * light;
        const a = Math.min(1, z(i, j) / 0.8);
        v.set([shade * (0.75 - 0.63 * a), shade * (0.82 - 0.45 * a), shade * (0.9 - 0.24 * a)], at + 3);
      }
    const idx: number[] = [];
    const id = (i: number, j: number) => j * grid + i;
    for (let j = 0; j < grid - 1; j++)
      for (let i = 0; i < grid - 1; i++) {
        if (wire) {
          idx.push(id(i, j), id(i + 1, j), id(i, j), id(i, j + 1));
        } else idx.push(id(i, j), id(i + 1, j), id(i + 1, j + 1), id(i, j), id(i + 1, j + 1), id(i, j + 1));
      }
    return { v, idx: new Uint32Array(idx) };
  }

  private replace(old: { vertices: GPUBuffer; indices: GPUBuffer } | null, m: ReturnType<DensityView['mesh']>) {
    old?.vertices.destroy();
    old?.indices.destroy();
    const upload = (data: Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>, usage: number) => {
      const b = this.device.createBuffer({ size: data.byteLength, usage: usage | GPUBufferUsage.COPY_DST });
      this.device.queue.writeBuffer(b, 0, data);
      return b;
    };
    return {
      vertices: upload(m.v, GPUBufferUsage.VERTEX),
      indices: upload(m.idx, GPUBufferUsage.INDEX),
      count: m.idx.length,
    };
  }

  /** Draws at the next animation frame (once, however often it is asked). */
  requestFrame(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.rendering = this.rendering.then(() => this.render());
    });
  }

  private async render(): Promise<void> {
    const startedAt = performance.now();
    const eye = [
      4.3 * Math.cos(this.elevation) * Math.cos(this.azimuth),
      4.3 * Math.cos(this.elevation) * Math.sin(this.azimuth),
      4.3 * Math.sin(this.elevation),
    ];
    const projection = mat4.perspective((38 * Math.PI) / 180, this.canvas.width / this.canvas.height, 0.1, 20);
    const view = mat4.lookAt(eye, [0, 0, 0.25], [0, 0, 1]);
    this.device.queue.writeBuffer(this.camera, 0, mat4.multiply(projection, view, new Float32Array(16)));
    const texture = this.color;
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginRenderPass({
      colorAttachments: [{ view: texture.createView(), clearValue: [1, 1, 1, 1], loadOp: 'clear', storeOp: 'store' }],
      depthStencilAttachment: {
        view: this.depth.createView(),
        depthClearValue: 1,
        depthLoadOp: 'clear',
        depthStoreOp: 'store',
      },
    });
    pass.setBindGroup(0, this.bindGroup);
    for (const [mesh, pipeline] of [
      [this.surface, this.triangles],
      [this.reference, this.lines],
    ] as const) {
      if (!mesh) continue;
      pass.setPipeline(pipeline);
      pass.setVertexBuffer(0, mesh.vertices);
      pass.setIndexBuffer(mesh.indices, 'uint32');
      pass.drawIndexed(mesh.count);
    }
    pass.end();
    encoder.copyTextureToBuffer({ texture }, { buffer: this.readback, bytesPerRow: this.bytesPerRow }, [
      this.canvas.width,
      this.canvas.height,
    ]);
    this.device.queue.submit([encoder.finish()]);
    await this.readback.mapAsync(GPUMapMode.READ);
    const pixels = new Uint8Array(this.readback.getMappedRange());
    const { width, height } = this.canvas;
    const image = new ImageData(width, height);
    let drawn = 0,
      checksum = 0;
    for (let y = 0; y < height; y++) {
      const row = pixels.subarray(y * this.bytesPerRow, y * this.bytesPerRow + 4 * width);
      image.data.set(row, 4 * width * y);
      for (let x = 0; x < 4 * width; x += 4) {
        const sum = row[x] + row[x + 1] + row[x + 2];
        checksum += sum;
        if (sum < 3 * 255 - 24) drawn++;
      }
    }
    this.readback.unmap();
    this.context.putImageData(image, 0, 0);
    this.stats = { frames: this.stats.frames + 1, drawn, checksum, startedAt, shownAt: performance.now() };
    this.onFrame(this.stats);
  }
}
