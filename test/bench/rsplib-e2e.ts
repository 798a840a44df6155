// `rserpool bench e2e` against RSPLIB's registrar, alternating with ours (issue 14):
//   npx tsx test/bench/rsplib-e2e.ts [--runs N] [-- more bench e2e flags]
// Debian builds RSPLIB's rspregistrar on the kernel's SCTP, which the kernels here lack, so it
// runs in a User-mode Linux guest (test/interop/rsplib-host.ts) on a network-namespace LAN
// 10.77.14.0/24: the guest on .10, its kernel's SCTP encapsulated in UDP 9899 (RFC 6951). The
// load generator (and, in the alternate runs, our registrar as the bench's own child) runs in
// a namespace host on .2. The CPU measured for RSPLIB is that of every host process of the
// guest (its kernel and rspregistrar): there is no cheaper way to run this build here.
// Needs root, rsplib-registrar, user-mode-linux, kmod (apt-get install -y ...) and dist/ (npm run build).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import { NetnsLab } from '../helpers/netns.js';
import { RsplibHost, rsplibUnavailable } from '../interop/rsplib-host.js';

/** The process and all its descendants (the UML guest's host processes). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dashdash = argv.indexOf('--');
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const benchArgs = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const runsAt = own.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(own[runsAt + 1]) : 3;
  const skip = rsplibUnavailable();
  if (skip !== null) throw new Error(`cannot run RSPLIB here: ${skip}`);

  const lab = new NetnsLab('10.77.14');
  try {
    const gen = lab.addHost('gen', 2);
    const rsplib = await RsplibHost.boot(lab, 'rsp', 10);
    // Rate limits off (per-PU handle resolutions, endpoint-unreachable reports), keep-alives as
    // rare as the bench asks of ours, loopback scope not needed (10/8 is site-local).
    rsplib.start(
      'registrar',
      `rspregistrar -asap=${rsplib.address}:3863 -enrp=${rsplib.address}:9901 -maxhrrate=1000000000 -maxeurate=1000000000 ` +
        `-endpointkeepalivetransmissioninterval=600000 -endpointkeepalivetimeoutinterval=600000 -loglevel=1`,
    );
    await new Promise((r) => setTimeout(r, 3000));
    const umlPid = findUmlPid(lab.tag);
    const pids = umlPid !== null ? processTree(umlPid) : [];
    process.stderr.write(`RSPLIB registrar at ${rsplib.address}:3863:9899; UML processes ${pids.join(',')}\n${rsplib.log('registrar')}\n`);
    const results: Array<{ which: string; run: number; out: string }> = [];
    for (let r = 1; r <= runs; r++) {
      for (const which of ['rsplib', 'ours']) {
        const args =
          which === 'rsplib'
            ? ['bench', 'e2e', '--registrar', `${rsplib.address}:3863:9899`, '--local-address', gen.address, ...(pids.length > 0 ? ['--registrar-pid', pids.join(',')] : []), '--json', ...benchArgs]
            : ['bench', 'e2e', '--address', gen.address, '--json', ...benchArgs];
        process.stderr.write(`run ${r}/${runs} ${which}: rserpool ${args.join(' ')}\n`);
        const p = spawnSync('ip', ['netns', 'exec', gen.ns, process.execPath, CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'inherit'] });
        results.push({ which, run: r, out: p.stdout });
      }
    }
    console.log(JSON.stringify(results.map((x) => ({ which: x.which, run: x.run, result: safeJson(x.out) }))));
  } finally {
    await lab.cleanup();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The UML kernel's main process: the linux.uml whose command line names this lab's umid. */
function findUmlPid(tag: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('linux.uml') && cmd.some((a) => a === `umid=rsp${tag}rsp`)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
