/**
 * Minimal logger: human lines on stderr (stdout is reserved for `--json` output).
 * Keys and patient data are never passed to it; `redact` also strips passwords in
 * connection strings and private JWK members as a second line of defence.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function redact(message: string): string {
  return message
    .replace(/(\/\/[^:/@\s]+:)[^@\s]+@/g, '$1***@')
    .replace(/"(d|p|q|dp|dq|qi|k)"\s*:\s*"[^"]+"/g, '"$1":"[redacted]"');
}

export function stderrLogger(options: { quiet?: boolean } = {}): Logger {
  const write = (level: string) => (message: string) => {
    if (options.quiet && level === 'info') return;
    process.stderr.write(`${new Date().toISOString()} ${level} ${redact(message)}\n`);
  };
  return { info: write('info'), warn: write('warn'), error: write('error') };
}
