// A one-line progress bar on stderr (redrawn in place on a terminal, a line per update otherwise).

export class Progress {
  private readonly start = Date.now();
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, note = ''): void {
    const now = Date.now();
    const final = done >= this.total;
    if (!final && now - this.lastDraw < (this.stream.isTTY ? 100 : 5000)) return;
    this.lastDraw = now;
    const width = 24;
    const filled = Math.round((width * Math.min(done, this.total)) / this.total);
    const secs = (now - this.start) / 1000;
    const eta = done > 0 && !final ? ` eta ${Math.round((secs * (this.total - done)) / done)}s` : '';
    const line = `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total} ${note} ${secs.toFixed(1)}s${eta}`;
    if (this.stream.isTTY) this.stream.write(`\r${line.padEnd(100)}${final ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}
