/**
 * `medledger verify [--json] [--no-keys] [--bundle FILE]`: checks every record version and audit
 * event against the chain (src/verify/verifyDatabase.ts), or, with --bundle, an exported
 * `$access-report` bundle against the chain alone. Exit 0 all holds, 1 findings, 2 could not run.
 */
import { readFile } from 'node:fs/promises';
import { formatBundleResult, formatVerifyReport, progressBar } from '../../verify/formatVerifyReport.ts';
import { standaloneReportCheck } from '../../verify/standaloneReportCheck.ts';
import { verifyNode } from '../../verify/verifyNode.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const verifyCommand: Command = {
  name: ['verify'],
  summary: 'check records and the audit log against the chain (or an access report with --bundle)',
  usage: 'medledger verify [--json] [--no-keys] [--bundle FILE] [--data-dir DIR] [--rpc-url URL]',
  options: { ...nodeOptions, 'no-keys': { type: 'boolean' }, bundle: { type: 'string' } },
  workers: false,
  // An exported access report is checked against the chain alone: no database, no node.
  async standalone({ values }) {
    if (typeof values.bundle !== 'string') return undefined;
    let bundle: unknown;
    try {
      bundle = JSON.parse(await readFile(values.bundle, 'utf8'));
    } catch (error) {
      const message = `cannot read ${values.bundle}: ${error instanceof Error ? error.message : String(error)}`;
      return { exitCode: 2, json: { error: message }, text: message };
    }
    const rpcUrl = typeof values['rpc-url'] === 'string' ? values['rpc-url'] : undefined;
    try {
      const result = await standaloneReportCheck(bundle, rpcUrl === undefined ? {} : { rpcUrl });
      return { exitCode: result.ok ? 0 : 1, json: result, text: formatBundleResult(values.bundle, result) };
    } catch (error) {
      const message = `could not check ${values.bundle}: ${error instanceof Error ? error.message : String(error)}`;
      return { exitCode: 2, json: { error: message }, text: message };
    }
  },
  async run(ctx, parameters) {
    const bundleResult = await this.standalone?.(parameters);
    if (bundleResult) return bundleResult;
    const { values } = parameters;
    const bar = progressBar(process.stderr);
    try {
      const report = await verifyNode(ctx, {
        withKeys: !values['no-keys'],
        onProgress: ({ kind, done, total }) => bar.update(kind, done, total),
      });
      bar.done();
      return { exitCode: report.ok ? 0 : 1, json: report, text: formatVerifyReport(report) };
    } catch (error) {
      bar.done();
      const message = `verify could not run: ${error instanceof Error ? error.message : String(error)}`;
      return { exitCode: 2, json: { error: message }, text: message };
    }
  },
};
