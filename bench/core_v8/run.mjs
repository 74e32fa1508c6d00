// Runs the core bench (a wasm32-wasip1 command) in node's V8: node run.mjs MODULE DATA_DIR [ARGS...]
// The module links the proxy-wasm imports it never calls here; they are stubs that throw.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const [module, data, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: ['core_v8', ...args], env: process.env, preopens: { '/data': data } });
const compiled = await WebAssembly.compile(await readFile(module));
const imports = wasi.getImportObject();
for (const i of WebAssembly.Module.imports(compiled)) {
  if (i.module === 'wasi_snapshot_preview1') continue;
  imports[i.module] ??= {};
  imports[i.module][i.name] = () => { throw new Error(`host call ${i.name} outside Envoy`); };
}
const instance = await WebAssembly.instantiate(compiled, imports);
// proxy-wasm modules export _initialize as well as _start; node's WASI wants one of them
wasi.start({ exports: { memory: instance.exports.memory, _start: instance.exports._start } });
