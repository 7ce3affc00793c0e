/**
 * `medledger import PATH... [--json]`: imports FHIR Bundles (transaction, batch, collection),
 * single resources, NDJSON files and directories of them (src/ehr/importFiles.ts). Progress on
 * a terminal, a summary at the end; exit 0 when everything imported, 1 when some resources failed.
 */
import { resolve } from 'node:path';
import { formatImportSummary } from '../../ehr/ImportSummary.ts';
import { importFiles } from '../../ehr/importFiles.ts';
import { importProgressBar } from '../../ehr/importProgressBar.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const importCommand: Command = {
  name: ['import'],
  summary: 'import FHIR Bundles, resources and NDJSON files (or directories of them)',
  usage: 'medledger import PATH... [--json] [--data-dir DIR] [--database-url URL] [--rpc-url URL]',
  options: { ...nodeOptions },
  workers: true,
  prepare(parameters) {
    // Paths are the CLI's (its working directory); the command may run inside a node elsewhere.
    // The progress bar is drawn only by the process that owns the terminal.
    return {
      values: {
        ...parameters.values,
        'progress-pid': process.stderr.isTTY ? String(process.pid) : undefined,
      },
      positionals: parameters.positionals.map((p) => resolve(p)),
    };
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length === 0) {
      return { exitCode: 2, json: { error: 'no PATH given' }, text: `usage: ${this.usage}` };
    }
    const bar = values['progress-pid'] === String(process.pid) ? importProgressBar() : undefined;
    try {
      // Without a terminal (logs, scripts): one line per file instead of a bar.
      const summary = await importFiles(
        ctx,
        positionals,
        bar
          ? { onProgress: (p) => bar.update(p) }
          : {
              onFileDone: (file, s) =>
                process.stderr.write(`imported ${file} (${s.resources} resources so far)\n`),
            },
      );
      bar?.done();
      return { exitCode: summary.failed > 0 ? 1 : 0, json: summary, text: formatImportSummary(summary) };
    } catch (error) {
      bar?.done();
      const message = `import could not run: ${error instanceof Error ? error.message : String(error)}`;
      return {
        exitCode: 2,
        json: { error: message, code: (error as { code?: string }).code },
        text: message,
      };
    }
  },
};
