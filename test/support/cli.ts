// Runs the tokenfence CLI in-process for unit tests and captures what it writes to stdout and stderr.
import { run } from '../../src/cli/main.js';

/** Runs `tokenfence ...argv` in-process: its exit code and everything it wrote. */
export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await run(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
