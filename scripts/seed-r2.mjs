// Seeds wrangler's local R2 bucket from a shard directory in one go
// (`wrangler r2 object put --local` starts workerd once per object, about
// 4 s each). Same storage layout as `wrangler ... --persist-to STATE`.
//
//   node scripts/seed-r2.mjs STATE BUCKET DIR
//
// Objects not in DIR are deleted, so the bucket mirrors DIR exactly;
// manifest.json is written last. Runs offline: Miniflare is local only.
import { Miniflare } from "miniflare";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const [state, bucketName, dir] = process.argv.slice(2);
if (!state || !bucketName || !dir) {
  console.error("usage: node scripts/seed-r2.mjs STATE BUCKET DIR");
  process.exit(2);
}
const names = readdirSync(dir)
  .filter((n) => !n.startsWith(".") && statSync(join(dir, n)).isFile())
  .sort((a, b) => (a === "manifest.json") - (b === "manifest.json") || (a < b ? -1 : a > b ? 1 : 0));
if (!names.includes("manifest.json")) {
  console.error(`seed-r2: ${dir} has no manifest.json`);
  process.exit(1);
}
const mf = new Miniflare({
  modules: true,
  script: "export default { fetch() { return new Response(null, { status: 404 }); } }",
  defaultPersistRoot: join(state, "v3"),
  r2Buckets: { SHARDS: bucketName },
});
try {
  const bucket = await mf.getR2Bucket("SHARDS");
  let bytes = 0;
  for (const name of names) {
    const b = readFileSync(join(dir, name));
    await bucket.put(name, b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    bytes += b.length;
  }
  const keep = new Set(names);
  let cursor;
  let removed = 0;
  do {
    const page = await bucket.list({ cursor, limit: 1000 });
    for (const o of page.objects) {
      if (!keep.has(o.key)) {
        await bucket.delete(o.key);
        removed++;
      }
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  console.log(`seed-r2: ${names.length} objects (${bytes} bytes) from ${dir} into local bucket ${bucketName}${removed ? `, ${removed} stale removed` : ""}`);
} finally {
  await mf.dispose();
}
