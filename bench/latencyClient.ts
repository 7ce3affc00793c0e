/**
 * A client for latency benchmarks that runs in its own process, as an EHR or app would: its own
 * work (fetch, parsing responses) then does not queue behind the server's in one event loop.
 * Reads one job as JSON on stdin, makes `warmup + n` GET requests one after another (concurrency
 * 1), and writes the `n` timed samples (ms) as JSON on stdout. A non-200 answer fails the run.
 *   echo '{"url":"...","headers":{},"n":500,"warmup":50}' | node bin/run-ts.js bench/latencyClient.ts
 */
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface LatencyJob {
  url: string;
  headers: Record<string, string>;
  n: number;
  warmup: number;
}

export interface Latency {
  p50: number;
  p99: number;
}

/** Runs `job` in a child process; resolves with p50 and p99 of its samples. */
export function measureLatency(job: LatencyJob): Promise<Latency> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('../bin/run-ts.js', import.meta.url)), fileURLToPath(import.meta.url)],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`latency client exited with ${code}`));
      const samples = (JSON.parse(out) as number[]).sort((a, b) => a - b);
      const at = (q: number) =>
        samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
      resolve({ p50: at(0.5), p99: at(0.99) });
    });
    child.stdin.end(JSON.stringify(job));
  });
}

async function runJob(job: LatencyJob): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < job.n + job.warmup; i++) {
    const t0 = performance.now();
    const response = await fetch(job.url, { headers: job.headers });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`latency client: ${job.url} answered ${response.status}`);
    if (i >= job.warmup) samples.push(performance.now() - t0);
  }
  return samples;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  process.stdout.write(JSON.stringify(await runJob(JSON.parse(input) as LatencyJob)));
}
