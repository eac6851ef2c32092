/** `esw` in-process: runs the command line's main with `args`, capturing its exit code and output. */
import { main } from '../../src/main.ts';

export async function esw(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    stdin: async () => stdin,
  });
  return { code, out, err };
}
