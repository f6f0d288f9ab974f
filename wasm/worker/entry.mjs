// Worker entry: the module workers-assets-gen generates (build/worker/
// worker.mjs, which runs the Go handler), behind one repair of the URL.
//
// worker.mjs starts a new Go instance for every request (syumai/workers'
// model: workerd forbids one request's I/O objects and promises being used
// from another's context, which a shared Go scheduler would do).
//
// workerd keeps a "%" that starts no escape ("/shards/%zz") as it is, and
// Go's net/url then refuses the whole URL, which syumai/workers answers
// with a 500. Encoding such a "%" as "%25" hands the handler the name it
// was sent ("%zz"), which it refuses with 400 like any other bad name.
import worker from "../../build/worker/worker.mjs";

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url);
    const path = url.pathname.replace(/%(?![0-9A-Fa-f]{2})/g, "%25");
    if (path !== url.pathname) {
      url.pathname = path;
      req = new Request(url, req);
    }
    return worker.fetch(req, env, ctx);
  },
};
