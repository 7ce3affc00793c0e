/**
 * `npm run bench`: runs every benchmark section and writes BENCHMARKS.md with the
 * machine, the command and the date. Each figure stands next to a baseline measured
 * in the same run, as a ratio, because the machine is shared and noisy.
 *   npm run bench                 # all sections
 *   npm run bench -- gas vault    # only these
 */
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { auditSection } from './sections/auditSection.ts';
import { fhirSection } from './sections/fhirSection.ts';
import { gasSection } from './sections/gasSection.ts';
import { importSection } from './sections/importSection.ts';
import { vaultSection } from './sections/vaultSection.ts';

export interface BenchSection {
  name: string;
  title: string;
  /** Returns the section's markdown body. */
  run(): Promise<string>;
}

const sections: BenchSection[] = [gasSection, vaultSection, auditSection, fhirSection, importSection];

const wanted = process.argv.slice(2);
const selected = wanted.length > 0 ? sections.filter((s) => wanted.includes(s.name)) : sections;
const started = new Date();
const parts: string[] = [];
for (const section of selected) {
  process.stderr.write(`bench: ${section.title}...\n`);
  const t0 = performance.now();
  const body = await section.run();
  process.stderr.write(`bench: ${section.title} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  parts.push(`## ${section.title}\n\n${body.trim()}\n`);
}
const command = `npm run bench${wanted.length > 0 ? ` -- ${wanted.join(' ')}` : ''}`;
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const document = `# Benchmarks

Produced by \`${command}\` on ${started.toISOString().slice(0, 10)}.
Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}.
The machine is shared and noisy: compare the ratios, each against a baseline measured in the same run.

${parts.join('\n')}`;
await writeFile('BENCHMARKS.md', document);
process.stdout.write(document);
