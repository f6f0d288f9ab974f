// Boot: get the one wasm binary (gzipped; inlined in the single-file build),
// compile it once, prepare the Web Worker script as a Blob URL (so it also
// works from file://), then run the page. The Go code takes it from there.
(async () => {
  const inl = window.ENMP_INLINE;
  const fail = (e) => {
    const el = document.getElementById('vugu_mount_point');
    if (el) el.textContent = 'ENMP Lab could not start: ' + e;
    console.error(e);
  };
  try {
    let gz;
    if (inl && inl.wasm) {
      gz = new Blob([Uint8Array.from(atob(inl.wasm), c => c.charCodeAt(0))]).stream();
    } else {
      const r = await fetch('enmp.wasm.gz');
      if (!r.ok) throw new Error('enmp.wasm.gz: HTTP ' + r.status + ' (run scripts/web.sh build)');
      gz = r.body;
    }
    const bytes = await new Response(gz.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
    const module = await WebAssembly.compile(bytes);
    const execSrc = inl && inl.exec ? inl.exec : await (await fetch('wasm_exec.js')).text();
    const workerBoot = `
self.onmessage = async (e) => {
  if (e.data && e.data.type === 'module') {
    const go = new Go();
    const inst = await WebAssembly.instantiate(e.data.module, go.importObject);
    go.run(inst);
  }
};`;
    window.enmpModule = module;
    window.enmpWorkerURL = URL.createObjectURL(new Blob([execSrc, workerBoot], {type: 'text/javascript'}));
    const go = new Go();
    const inst = await WebAssembly.instantiate(module, go.importObject);
    go.run(inst);
  } catch (e) {
    fail(e);
  }
})();
