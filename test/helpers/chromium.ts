// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol through a pipe
// (--remote-debugging-pipe: JSON messages separated by NUL on file descriptors 3 and 4), so a
// test needs neither a WebSocket client nor a fixed port. For the dashboard test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The chromium binary, or null with the reason it cannot be used. */
export function findChromium(): { path: string } | { path: null; reason: string } {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync(name, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return { path: name };
  }
  return { path: null, reason: 'no chromium on this host (Debian: apt-get install chromium; .ci/run installs it)' };
}

interface Pending {
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

export class Chromium {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered = '';
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const output = child.stdio[4] as Readable;
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let end = this.buffered.indexOf('\0'); end >= 0; end = this.buffered.indexOf('\0')) {
        const message = JSON.parse(this.buffered.slice(0, end)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
        this.buffered = this.buffered.slice(end + 1);
        const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
        if (waiter === undefined) continue; // an event: not used
        this.pending.delete(message.id!);
        if (message.error) waiter.reject(new Error(`DevTools: ${message.error.message}`));
        else waiter.resolve(message.result ?? {});
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    child.once('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`chromium exited (${code}):\n${this.stderr.slice(-2000)}`));
      this.pending.clear();
    });
  }

  static launch(binary: string, size = { width: 1400, height: 1000 }): Chromium {
    const profile = mkdtempSync(join(tmpdir(), 'rserpool-chromium-'));
    const child = spawn(
      binary,
      [
        '--headless',
        '--no-sandbox', // root in CI: Chromium's sandbox refuses to run as root
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--hide-scrollbars',
        '--font-render-hinting=none',
        `--window-size=${size.width},${size.height}`,
        `--user-data-dir=${profile}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    return new Chromium(child, profile);
  }

  /** One DevTools command (on a page's session when `sessionId` is given). */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const message = JSON.stringify({ id, method, params, ...(sessionId !== undefined ? { sessionId } : {}) });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`DevTools ${method}: no answer within ${timeoutMs} ms\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      (this.child.stdio[3] as Writable).write(`${message}\0`);
    });
  }

  /** Opens `url` in a new page; returns the page. */
  async open(url: string): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    return new Page(this, sessionId);
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.send('Browser.close', {}, undefined, 5000).catch(() => this.child.kill('SIGKILL'));
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    rmSync(this.profile, { recursive: true, force: true });
  }
}

export class Page {
  constructor(
    private readonly browser: Chromium,
    private readonly sessionId: string,
  ) {}

  /** Evaluates `expression` in the page and returns its value (JSON-able). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.browser.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, this.sessionId)) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Polls `expression` until it is truthy; returns its last value or throws after `timeoutMs`. */
  async waitFor<T>(expression: string, timeoutMs: number, what: string): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A PNG of the whole page (the viewport stretched to the content's height). */
  async screenshot(width: number): Promise<Buffer> {
    const metrics = (await this.browser.send('Page.getLayoutMetrics', {}, this.sessionId)) as { cssContentSize: { height: number } };
    const height = Math.ceil(metrics.cssContentSize.height);
    await this.browser.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, this.sessionId);
    const { data } = (await this.browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, this.sessionId)) as { data: string };
    return Buffer.from(data, 'base64');
  }
}
