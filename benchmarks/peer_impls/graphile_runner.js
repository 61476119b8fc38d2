// graphile-worker 0.17 side of `benchmarks.peers` (runs with `benchmarks/.peers-node`).
//
// Settings from graphile-worker's performance page (worker.graphile.org/docs/performance), the
// configuration its published figures were measured with: concurrentJobs 24, maxPoolSize 25,
// localQueue.size 500 (batched fetch), completeJobBatchDelay 0 and failJobBatchDelay 0 (batched
// completion). NO_LOG_SUCCESS=1 (set by the caller) skips its per-job "Completed task" log line.
// `runOnce` drains and returns. Protocol: see __init__.py beside this file.
"use strict";

const { runOnce, makeWorkerUtils } = require("graphile-worker");

const CHUNK = 5000;
const nowSeconds = () => (performance.timeOrigin + performance.now()) / 1000;

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

async function setup(dsn, jobs) {
  const utils = await makeWorkerUtils({ connectionString: dsn });
  try {
    await utils.migrate();
    for (let start = 0; start < jobs; start += CHUNK) {
      const n = Math.min(CHUNK, jobs - start);
      await utils.addJobs(Array.from({ length: n }, () => ({ identifier: "noop", payload: {} })));
    }
    await utils.withPgClient((client) => client.query("VACUUM ANALYZE"));
  } finally {
    await utils.release();
  }
}

async function work(dsn) {
  const concurrency = option("--concurrency", 24);
  let firstStart = null;
  let ran = 0;
  await runOnce({
    connectionString: dsn,
    concurrency,
    maxPoolSize: concurrency + 1,
    noHandleSignals: true,
    preset: {
      worker: {
        localQueue: { size: option("--local-queue", 500) },
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
    taskList: {
      noop: async () => {
        if (firstStart === null) firstStart = nowSeconds();
        ran += 1;
      },
    },
  });
  console.log(JSON.stringify({ first_start: firstStart, end: nowSeconds(), ran }));
}

async function main() {
  const [mode, dsn] = process.argv.slice(2);
  if (mode === "setup") await setup(dsn, option("--jobs", 20000));
  else if (mode === "work") await work(dsn);
  else throw new Error(`unknown mode ${mode}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
