/**
 * `npm run bench`: runs every benchmark section and writes BENCHMARKS.md with the
 * machine, the command and the date. Each figure stands next to a baseline measured
 * in the same run, as a ratio, because the machine is shared and noisy.
 *   npm run bench                 # all sections
 *   npm run bench -- gas vault    # only these: their sections in BENCHMARKS.md are replaced,
 *                                 # the others are kept (each section says when it was measured)
 * Each section runs in a process of its own, after the machine has settled: a section timed in
 * the process that has just run another inherits its heap and its leftovers (the 100,000-version
 * verify doubled the next section's latencies).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { auditSection } from './sections/auditSection.ts';
import { exchangeSection } from './sections/exchangeSection.ts';
import { fhirSection } from './sections/fhirSection.ts';
import { gasSection } from './sections/gasSection.ts';
import { idleSection } from './sections/idleSection.ts';
import { importSection } from './sections/importSection.ts';
import { loadSection } from './sections/loadSection.ts';
import { memorySection } from './sections/memorySection.ts';
import { scalingSection } from './sections/scalingSection.ts';
import { searchSection } from './sections/searchSection.ts';
import { vaultSection } from './sections/vaultSection.ts';
import { workersSection } from './sections/workersSection.ts';
import { settle } from './settle.ts';

export interface BenchSection {
  name: string;
  title: string;
  /** Returns the section's markdown body. */
  run(): Promise<string>;
}

const sections: BenchSection[] = [
  gasSection,
  vaultSection,
  auditSection,
  fhirSection,
  importSection,
  loadSection,
  workersSection,
  scalingSection,
  searchSection,
  memorySection,
  exchangeSection,
  idleSection,
];

/** Set in the child process that runs one section: it prints the section's body and exits. */
const only = process.env.MEDLEDGER_BENCH_SECTION;
if (only !== undefined) {
  const section = sections.find((s) => s.name === only);
  if (!section) throw new Error(`no bench section ${only}`);
  process.stdout.write(await section.run());
  process.exit(0);
}

/** Runs `section` in a new Node process (through the same TypeScript loader) and returns its body. */
function runInChild(section: BenchSection): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [fileURLToPath(new URL('../bin/run-ts.js', import.meta.url)), fileURLToPath(import.meta.url)],
      { env: { ...process.env, MEDLEDGER_BENCH_SECTION: section.name }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
    child.stderr?.pipe(process.stderr);
  });
}

const wanted = process.argv.slice(2);
const selected = wanted.length > 0 ? sections.filter((s) => wanted.includes(s.name)) : sections;
const started = new Date();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`;
const measured: { title: string; text: string }[] = [];
for (const section of selected) {
  await settle((line) => process.stderr.write(`${line}\n`));
  process.stderr.write(`bench: ${section.title}...\n`);
  const t0 = performance.now();
  const body = await runInChild(section);
  process.stderr.write(`bench: ${section.title} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const command = `npm run bench -- ${section.name}`;
  const when = `_Measured ${new Date().toISOString().slice(0, 10)} by \`${wanted.length > 0 ? command : 'npm run bench'}\` on ${machine}._`;
  measured.push({ title: section.title, text: `## ${section.title}\n\n${when}\n\n${body.trim()}\n` });
}
const previous = wanted.length > 0 ? await readFile('BENCHMARKS.md', 'utf8').catch(() => '') : '';
const parts = sections.flatMap((section) => {
  const fresh = measured.find((m) => m.title === section.title);
  if (fresh) return [fresh.text];
  const kept = previousSection(previous, section.title);
  return kept ? [kept] : [];
});
const document = `# Benchmarks

Produced by \`npm run bench\` (all sections) or \`npm run bench -- NAME...\` (those sections; the
others kept from their last run, each dated). Last run ${started.toISOString().slice(0, 10)}.
Machine: ${machine}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}.
The machine is shared and noisy: compare the ratios, each against a baseline measured in the same run.
Nor is it always the same hardware: sessions have run on 2 × AMD EPYC and on 2 × Intel Xeon, and the same
code measures about 1.5-2 times slower on the Xeon in absolute terms (ratios move far less). Each
section names the machine it was measured on (sections measured before 2026-11-25 name only the date).

${parts.join('\n')}`;
await writeFile('BENCHMARKS.md', document);
process.stdout.write(document);

/** A section of an earlier BENCHMARKS.md, from its heading to the next `## `. */
function previousSection(markdown: string, title: string): string | undefined {
  const start = markdown.indexOf(`## ${title}\n`);
  if (start < 0) return undefined;
  const next = markdown.indexOf('\n## ', start + 3);
  return `${markdown.slice(start, next < 0 ? undefined : next).trim()}\n`;
}
